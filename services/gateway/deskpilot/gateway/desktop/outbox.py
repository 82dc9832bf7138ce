"""One viewer's outgoing messages and the task that sends them.

Framebuffer updates go out only in answer to the viewer's FramebufferUpdateRequest
(RFC 6143, 7.5.3 and 7.6.1; noVNC asks again as soon as it has drawn an update, and the
proxy never offers ContinuousUpdates, so no client expects unasked-for updates). What
changes in between is queued as the rectangles every viewer shares and goes out behind
one header when the viewer asks: a viewer that keeps up gets each change as it comes,
one that draws slowly gets several changes at once, never a backlog that grows in its
socket (which would delay what it sees, input echo included). The queue is bounded in
bytes; when a change would not fit, the queue is dropped and the viewer gets a keyframe
of the screen as it is when it next asks (taken then, so a viewer that does not ask
pins no copy of the screen). Bell and clipboard messages need no request and go at once.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from collections.abc import Callable

from websockets.asyncio.connection import Connection

from deskpilot.gateway.desktop.encoder import Caps, Keyframe, Rects, update_header

# RFB is a byte stream: large updates go out in websocket messages of at most this size,
# small pieces are gathered into one, so a stalled viewer pins at most about this much
# in its socket buffer beyond what it shares with others.
MESSAGE_BYTES = 64 * 1024
MAX_RECTS = 65535  # a FramebufferUpdate's rectangle count is 16 bits


class Outbox:
    def __init__(
        self, max_bytes: int, caps: Callable[[], Caps], keyframe: Callable[[], Keyframe]
    ) -> None:
        self.max_bytes = max_bytes
        self._caps = caps
        self._keyframe = keyframe  # the screen as it is now (shared by the hub)
        self._updates: list[Rects] = []
        self._rect_count = 0
        self.queued_bytes = 0
        self._messages: deque[bytes] = deque()
        self._message_bytes = 0
        self._resize: Rects | None = None
        self.keyframe_due = True  # nothing sent yet: the first answer is the whole screen
        self._requested = False
        self._wake = asyncio.Event()
        self._sending = False
        self.last_progress = time.monotonic()
        self.sent_bytes = 0

    # --- what the hub calls ----------------------------------------------------------

    def push_update(self, rects: Rects) -> bool:
        """Queue a change for the viewer's next request; False (nothing queued) when it
        would overflow the bound. Nothing to do while a keyframe is due: it shows it."""
        if self.keyframe_due:
            return True
        if self._updates and (
            self.queued_bytes + rects.size > self.max_bytes
            or self._rect_count + rects.count > MAX_RECTS
        ):
            return False
        self._updates.append(rects)
        self._rect_count += rects.count
        self.queued_bytes += rects.size
        self._wake.set()
        return True

    def push_message(self, data: bytes) -> bool:
        """Queue a message that needs no request (bell, clipboard); False (dropped) when
        the viewer has not taken the previous ones and this would pass the bound."""
        if self._messages and self._message_bytes + len(data) > self.max_bytes:
            return False
        self._messages.append(data)
        self._message_bytes += len(data)
        self._wake.set()
        return True

    def restart(self, resize: Rects | None = None) -> None:
        """Drop the queued changes: the viewer's next request gets a keyframe (after
        `resize`, a DesktopSize rectangle, which goes alone in answer to one request)."""
        self._updates.clear()
        self._rect_count = self.queued_bytes = 0
        self.keyframe_due = True
        if resize is not None:
            self._resize = resize
        self._wake.set()

    def request(self) -> None:
        """The viewer asked for an update (incremental or not: a full one is a restart)."""
        self._requested = True
        self._wake.set()

    def stalled_for(self) -> float:
        """Seconds the viewer has taken nothing while something was being sent to it."""
        return time.monotonic() - self.last_progress if self._sending else 0.0

    # --- the sending task ------------------------------------------------------------

    async def run(self, websocket: Connection, on_sent: Callable[[int], None]) -> None:
        """Send until the connection ends: messages at once, updates when asked for."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._messages:
                message = self._messages.popleft()
                self._message_bytes -= len(message)
                await self._send(websocket, (message,), on_sent)
            if not self._requested:
                continue
            answer = self._take_update()
            if answer is None:
                continue
            self._requested = False
            self._sending = True
            self.last_progress = time.monotonic()
            if isinstance(answer, Keyframe):
                answer = await asyncio.to_thread(answer.rects, self._caps())
            await self._send(websocket, (update_header(answer.count), *answer.chunks), on_sent)

    def _take_update(self) -> Rects | Keyframe | None:
        """What answers the pending request now, or None when nothing has changed."""
        if self._resize is not None:
            resize, self._resize = self._resize, None
            return resize
        if self.keyframe_due:
            self.keyframe_due = False
            return self._keyframe()  # the screen now: everything queued is in it
        if not self._updates:
            return None
        chunks = tuple(itertools.chain.from_iterable(u.chunks for u in self._updates))
        merged = Rects(self._rect_count, chunks)
        self._updates.clear()
        self._rect_count = self.queued_bytes = 0
        return merged

    async def _send(
        self, websocket: Connection, chunks: tuple[bytes, ...], on_sent: Callable[[int], None]
    ) -> None:
        self._sending = True
        try:
            for message in _messages(chunks):
                await websocket.send(message)
                self.last_progress = time.monotonic()
                self.sent_bytes += len(message)
                on_sent(len(message))
        finally:
            self._sending = False


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
