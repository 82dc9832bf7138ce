"""The gate's memory of sessions whose content was flagged as a likely injection.

A flag asks for one confirmation: the first CheckAction after it returns CONFIRM and
consumes the memory. The caller's `context.tainted` is authoritative beyond that: while
the orchestrator says a session is tainted, every action needs confirmation.

What flagged a session is kept apart from that one-shot mark, and is not consumed: the
second-stage judge reads it before each consequential action while the session is tainted.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

# Enough of what flagged the content for the judge to tell what it asks for; more costs
# tokens on every consequential action of a tainted session.
MAX_EXCERPT_CHARS = 4_000


@dataclass(frozen=True)
class TaintMark:
    """Why a session is tainted."""

    score: float
    source: str
    excerpt: str  # the flagged stretches of the content (capped)
    at: float


@dataclass(frozen=True)
class TaintState:
    """A session's memory at one moment: its pending mark and its latest flagged content."""

    pending: TaintMark | None
    flagged: TaintMark | None


class TaintStore:
    """Bounded, thread-safe maps session id -> TaintMark (oldest dropped first)."""

    def __init__(self, max_sessions: int = 10_000, ttl_seconds: float = 24 * 3600) -> None:
        self._marks: OrderedDict[str, TaintMark] = OrderedDict()  # consumed by CheckAction
        self._flagged: OrderedDict[str, TaintMark] = OrderedDict()  # kept for the judge
        self._lock = threading.Lock()
        self._max = max_sessions
        self._ttl = ttl_seconds

    def mark(self, session_id: str, score: float, source: str, excerpt: str) -> None:
        """Record that content of `session_id` was flagged."""
        if not session_id:
            return
        mark = TaintMark(score, source, excerpt[:MAX_EXCERPT_CHARS], time.monotonic())
        with self._lock:
            for marks in (self._marks, self._flagged):
                _put(marks, session_id, mark, self._max)

    def consume(self, session_id: str) -> TaintMark | None:
        """The session's mark, removed (a confirmation will be asked for it)."""
        with self._lock:
            mark = self._marks.pop(session_id, None)
        return self._fresh(mark)

    def flagged(self, session_id: str) -> TaintMark | None:
        """The latest content that flagged the session, still kept after `consume`."""
        with self._lock:
            mark = self._flagged.get(session_id)
        return self._fresh(mark)

    def state(self, session_id: str) -> TaintState:
        """The session's memory, to `restore` later."""
        with self._lock:
            return TaintState(self._marks.get(session_id), self._flagged.get(session_id))

    def clear(self, session_id: str) -> None:
        """Forget a session's marks (a person confirmed)."""
        with self._lock:
            self._marks.pop(session_id, None)
            self._flagged.pop(session_id, None)

    def restore(self, session_id: str, state: TaintState) -> None:
        """Put back the memory the session had before, when what flagged it since was
        cleared (the second-stage judge found no injection)."""
        if not session_id:
            return
        with self._lock:
            for marks, mark in ((self._marks, state.pending), (self._flagged, state.flagged)):
                if mark is None:
                    marks.pop(session_id, None)
                else:
                    marks[session_id] = mark

    def _fresh(self, mark: TaintMark | None) -> TaintMark | None:
        if mark and time.monotonic() - mark.at > self._ttl:
            return None
        return mark


def _put(marks: OrderedDict[str, TaintMark], session_id: str, mark: TaintMark, most: int) -> None:
    marks[session_id] = mark
    marks.move_to_end(session_id)
    while len(marks) > most:
        marks.popitem(last=False)
