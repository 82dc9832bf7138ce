"""One viewer's queue of outgoing bytes and the task that sends it.

The broadcast only appends references to bytes shared by every viewer, so a slow viewer
never slows the others; its queue is bounded in bytes, and when an update would not fit,
the queue is emptied and replaced by a keyframe of the screen as it is now.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

from websockets.asyncio.connection import Connection

from deskpilot.gateway.desktop.encoder import Caps, Keyframe

# RFB is a byte stream: large updates go out in websocket messages of at most this size,
# small pieces are gathered into one, so a stalled viewer pins at most about this much
# in its socket buffer beyond what it shares with others.
MESSAGE_BYTES = 64 * 1024

Item = tuple[bytes, ...] | Keyframe | bytes


class Outbox:
    def __init__(self, max_bytes: int, caps: Callable[[], Caps]) -> None:
        self.max_bytes = max_bytes
        self._caps = caps
        self._items: deque[tuple[Item, int]] = deque()
        self.queued_bytes = 0
        self._ready = asyncio.Event()
        self.last_progress = time.monotonic()
        self._sending = False
        self.sent_bytes = 0

    def push(self, item: Item, size: int) -> bool:
        """Queue `item`; False (nothing queued) when it would overflow the bound."""
        if self._items and self.queued_bytes + size > self.max_bytes:
            return False
        self._append(item, size)
        return True

    def restart(self, keyframe: Keyframe, before: bytes = b"") -> None:
        """Drop whatever is queued; the viewer starts over from `keyframe` (after `before`,
        a resize). The keyframe counts nothing against the bound: it replaces the rest."""
        self._items.clear()
        self.queued_bytes = 0
        if before:
            self._append(before, len(before))
        self._append(keyframe, 0)

    def _append(self, item: Item, size: int) -> None:
        if not self._items and not self._sending:
            self.last_progress = time.monotonic()  # idle until now, not stalled
        self._items.append((item, size))
        self.queued_bytes += size
        self._ready.set()

    def stalled_for(self) -> float:
        """Seconds since the viewer last took anything while it had something queued."""
        busy = self._items or self._sending
        return time.monotonic() - self.last_progress if busy else 0.0

    async def run(self, websocket: Connection, on_sent: Callable[[int], None]) -> None:
        """Send queued items in order until the connection ends."""
        while True:
            await self._ready.wait()
            if not self._items:
                self._ready.clear()
                continue
            item, size = self._items[0]
            self._sending = True
            if isinstance(item, Keyframe):
                chunks = await asyncio.to_thread(item.chunks, self._caps())
            elif isinstance(item, bytes):
                chunks = (item,)
            else:
                chunks = item
            for message in _messages(chunks):
                await websocket.send(message)
                self.last_progress = time.monotonic()
                self.sent_bytes += len(message)
                on_sent(len(message))
            self._sending = False
            # restart() may have replaced the queue while this item was being sent.
            if self._items and self._items[0][0] is item:
                self._items.popleft()
                self.queued_bytes -= size


def _messages(chunks: tuple[bytes, ...]) -> list[bytes | memoryview]:
    """`chunks` regrouped into websocket messages of at most MESSAGE_BYTES."""
    out: list[bytes | memoryview] = []
    small: list[bytes] = []
    small_size = 0
    for chunk in chunks:
        if len(chunk) <= MESSAGE_BYTES - small_size:
            small.append(chunk)
            small_size += len(chunk)
            continue
        if small:
            out.append(b"".join(small))
            small, small_size = [], 0
        if len(chunk) <= MESSAGE_BYTES:
            small, small_size = [chunk], len(chunk)
            continue
        view = memoryview(chunk)
        out += [view[i : i + MESSAGE_BYTES] for i in range(0, len(view), MESSAGE_BYTES)]
    if small:
        out.append(b"".join(small))
    return out
