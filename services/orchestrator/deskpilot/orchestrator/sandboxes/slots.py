"""How many sandboxes a replica's sessions hold at once, and who waits for one.

A session takes a slot before its sandbox is started and gives it back when the sandbox
stops (the session ended, sat idle, or the sandbox died). When every slot is taken, the
session waits in arrival order and is told its place in the queue each time it changes,
so its status can say why it is not running yet.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

Queued = Callable[[int, int], Awaitable[None]]


class SandboxSlots:
    """A first-come, first-served limit of `limit` sandboxes."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        self.limit = limit
        self._holders: set[str] = set()
        self._queue: list[str] = []
        self._changed = asyncio.Event()

    @property
    def in_use(self) -> int:
        return len(self._holders)

    def holds(self, session_id: str) -> bool:
        return session_id in self._holders

    async def take(self, session_id: str, queued: Queued) -> None:
        """Wait for a free slot for `session_id`; `queued(position, limit)` is awaited each
        time its place in the queue (1: next) changes while it waits."""
        if session_id in self._holders:
            return
        self._queue.append(session_id)
        reported = 0
        try:
            while not (self._queue[0] == session_id and len(self._holders) < self.limit):
                changed = self._changed
                position = self._queue.index(session_id) + 1
                if position != reported:
                    reported = position
                    await queued(position, self.limit)
                    continue  # the queue may have moved while that was reported
                await changed.wait()
        finally:
            self._queue.remove(session_id)
            self._notify()
        self._holders.add(session_id)

    def give_back(self, session_id: str) -> None:
        """Free the slot of `session_id` (nothing if it holds none)."""
        if session_id in self._holders:
            self._holders.discard(session_id)
            self._notify()

    def _notify(self) -> None:
        # Wake every waiter once; each looks at the queue again.
        self._changed.set()
        self._changed = asyncio.Event()
