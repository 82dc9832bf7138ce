"""The viewer's websocket as an RFB byte stream (RFB messages may span websocket
messages, or share one), read with the same `readexactly` as a TCP stream."""

from __future__ import annotations

from typing import Protocol

from websockets.asyncio.connection import Connection

from deskpilot.gateway.desktop.close_codes import CloseCode, ViewerClosed


class ByteSource(Protocol):
    async def readexactly(self, n: int) -> bytes: ...


class WebSocketBytes:
    """Reads binary websocket messages into one buffer; holds at most one message plus
    the unread tail of the previous one (websockets' max_size bounds a message)."""

    def __init__(self, websocket: Connection) -> None:
        self._websocket = websocket
        self._buffer = bytearray()
        self._start = 0

    async def readexactly(self, n: int) -> bytes:
        while len(self._buffer) - self._start < n:
            message = await self._websocket.recv()
            if isinstance(message, str):
                raise ViewerClosed(CloseCode.TEXT_FRAME, "RFB travels in binary frames only")
            del self._buffer[: self._start]
            self._start = 0
            self._buffer += message
        data = bytes(self._buffer[self._start : self._start + n])
        self._start += n
        return data
