"""Regular expressions written by users (policy rules), compiled with RE2.

RE2 matches in time linear in the text, so no pattern can stall the gate the way a
backtracking engine does on `(a+)+$`. It has no lookaround or backreferences; a pattern
using them is refused when the policy is loaded, naming the pattern.
"""

from __future__ import annotations

from typing import Protocol

import re2

MAX_PATTERN_CHARS = 2000
# RE2's compiled program budget: far above any sensible rule, small enough that a
# pattern like `(a{100}){100}` is refused instead of taking the gate's memory.
_MAX_MEM = 8 << 20


class Matcher(Protocol):
    """The part of a compiled pattern the rules use."""

    def search(self, text: str) -> object | None: ...


class PatternError(ValueError):
    """A user pattern RE2 cannot compile; the message names the pattern and why."""


def _options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False  # the error goes to the caller, not to stderr
    options.max_mem = _MAX_MEM
    return options


_OPTIONS = _options()


def compile_user_pattern(pattern: str) -> Matcher:
    """The compiled pattern; raises PatternError naming it when RE2 refuses it."""
    if len(pattern) > MAX_PATTERN_CHARS:
        raise PatternError(
            f"pattern is {len(pattern)} characters; the limit is {MAX_PATTERN_CHARS}"
        )
    try:
        return re2.compile(pattern, options=_OPTIONS)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else "refused"
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        hint = ""
        if "perl operator" in reason or "escape sequence" in reason:
            hint = " (RE2 has no lookaround or backreferences)"
        raise PatternError(
            f"pattern {pattern!r} is not a valid RE2 regular expression: {reason}{hint}"
        ) from None
