"""Environments for processes that must not see what their parent holds.

A sandbox and everything in it get an environment built from an allow-list, never a
copy of their parent's minus a few names: the orchestrator's environment holds API keys
and service credentials, and a deny-list misses every secret nobody thought of. Only
what says how to talk to a person passes through (language, time zone, terminal);
everything else a sandbox process needs (HOME, USER, DISPLAY, ...) its starter sets.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

# Passed through from the parent when set: none of them can carry a secret.
PASSED_THROUGH = frozenset({"LANG", "LANGUAGE", "TZ", "TERM"})
PASSED_THROUGH_PREFIXES = ("LC_",)
# PATH of a sandbox user: the system's, not the parent's (which may point into a home
# the user cannot enter, or at tools installed only for the parent).
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"


def allowed_environment(source: Mapping[str, str] | None = None) -> dict[str, str]:
    """The allow-listed variables of `source` (default: this process's environment)."""
    source = os.environ if source is None else source
    return {
        name: value
        for name, value in source.items()
        if name in PASSED_THROUGH or name.startswith(PASSED_THROUGH_PREFIXES)
    }
