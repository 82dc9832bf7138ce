"""The limits of a session: the operator's settings are both the defaults and the maxima,
and a session may ask for less (`SessionConfig.limits`); asking for more gets the
operator's value. CreateSession stores the limits that apply in the session's config, so
clients see them."""

from __future__ import annotations

from dataclasses import dataclass, fields

from deskpilot.common.errors import InvalidArgument
from deskpilot.v1 import session_pb2

# Fewer would end a session the first time any action returned a screenshot.
MIN_NO_PROGRESS_REPEATS = 2


@dataclass(frozen=True)
class Limits:
    """What ends a session (steps, tokens, wall time, the same action on an unchanged
    screen this many times in a row) and how long one bash command may run."""

    max_steps: int = 100
    max_tokens: int = 5_000_000
    max_wall_seconds: int = 3600
    no_progress_repeats: int = 4
    bash_timeout_seconds: int = 120


DEFAULTS = Limits()
NAMES = tuple(f.name for f in fields(Limits))


def check_requested(requested: session_pb2.SessionLimits) -> None:
    """InvalidArgument naming the first limit a session may not ask for."""
    for name in NAMES:
        if getattr(requested, name) < 0:
            raise InvalidArgument(
                f"config.limits.{name} must be 0 (default) or positive",
                field=f"config.limits.{name}",
            )
    repeats = requested.no_progress_repeats
    if 0 < repeats < MIN_NO_PROGRESS_REPEATS:
        raise InvalidArgument(
            f"config.limits.no_progress_repeats must be 0 (default) or at least "
            f"{MIN_NO_PROGRESS_REPEATS}, got {repeats}",
            field="config.limits.no_progress_repeats",
        )


def effective(requested: session_pb2.SessionLimits, maxima: Limits) -> Limits:
    """The limits that apply: each requested one (0: the operator's), at most the
    operator's."""
    applied = {}
    for name in NAMES:
        ceiling = getattr(maxima, name)
        asked = getattr(requested, name)
        applied[name] = min(asked, ceiling) if asked > 0 else ceiling
    return Limits(**applied)


def fill_in(requested: session_pb2.SessionLimits, maxima: Limits) -> None:
    """Write the limits that apply into `requested`."""
    applied = effective(requested, maxima)
    for name in NAMES:
        setattr(requested, name, getattr(applied, name))
