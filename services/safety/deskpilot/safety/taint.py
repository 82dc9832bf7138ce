"""The gate's memory of sessions whose content was flagged as a likely injection.

A flag asks for one confirmation: the first CheckAction after it returns CONFIRM and
consumes the memory. The caller's `context.tainted` is authoritative beyond that: while
the orchestrator says a session is tainted, every action needs confirmation.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass


@dataclass(frozen=True)
class TaintMark:
    """Why a session is tainted."""

    score: float
    source: str
    excerpt: str
    at: float


class TaintStore:
    """Bounded, thread-safe map session id -> TaintMark (oldest dropped first)."""

    def __init__(self, max_sessions: int = 10_000, ttl_seconds: float = 24 * 3600) -> None:
        self._marks: OrderedDict[str, TaintMark] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_sessions
        self._ttl = ttl_seconds

    def mark(self, session_id: str, score: float, source: str, excerpt: str) -> None:
        """Record that content of `session_id` was flagged."""
        if not session_id:
            return
        with self._lock:
            self._marks[session_id] = TaintMark(score, source, excerpt[:120], time.monotonic())
            self._marks.move_to_end(session_id)
            while len(self._marks) > self._max:
                self._marks.popitem(last=False)

    def consume(self, session_id: str) -> TaintMark | None:
        """The session's mark, removed (a confirmation will be asked for it)."""
        with self._lock:
            mark = self._marks.pop(session_id, None)
        if mark and time.monotonic() - mark.at > self._ttl:
            return None
        return mark

    def peek(self, session_id: str) -> TaintMark | None:
        """The session's mark without consuming it."""
        with self._lock:
            return self._marks.get(session_id)

    def clear(self, session_id: str) -> None:
        """Forget a session's mark (a person confirmed)."""
        with self._lock:
            self._marks.pop(session_id, None)

    def restore(self, session_id: str, mark: TaintMark | None) -> None:
        """Put back the mark the session had before (None: it had none), when what
        flagged it since was cleared (the second-stage judge found no injection)."""
        if not session_id:
            return
        with self._lock:
            if mark is None:
                self._marks.pop(session_id, None)
            else:
                self._marks[session_id] = mark
