"""A raw asyncio RFB viewer over a websocket, for tests and the gateway benchmark.

It speaks RFB 3.8 with security None (what the gateway offers), asks for the proxy's
pixel format, decodes Raw, CopyRect, Tight (fill and basic zlib, as the proxy sends it)
and Cursor into its own framebuffer, and can stop reading to play a stalled viewer.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import time
import zlib
from collections.abc import AsyncIterator, Callable, Sequence

import numpy as np
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve

from deskpilot.gateway.desktop import MAX_VIEWER_MESSAGE_BYTES, DesktopHubs, Viewer
from deskpilot.gateway.desktop.vncauth import vnc_auth_response

RAW, COPY_RECT, TIGHT = 0, 1, 7
CURSOR, DESKTOP_SIZE, LAST_RECT = -239, -223, -224
# 32 bpp, depth 24, little-endian, true colour, 8-bit channels, red 0 green 8 blue 16.
VIEWER_PIXEL_FORMAT = struct.pack(">BBBBHHHBBB3x", 32, 24, 0, 1, 255, 255, 255, 0, 8, 16)
DEFAULT_ENCODINGS = (COPY_RECT, RAW, CURSOR, DESKTOP_SIZE, LAST_RECT)


class RfbClient:
    def __init__(self, websocket: ClientConnection) -> None:
        self.websocket = websocket
        self._buffer = bytearray()
        self.width = self.height = 0
        self.name = b""
        self.pixels = np.zeros((0, 0, 4), np.uint8)
        self.updates = 0  # framebuffer updates decoded
        self.rects: list[tuple[int, int, int, int, int]] = []  # x, y, w, h, encoding
        self.bytes_read = 0
        self.update_times: list[float] = []
        self._position = 0  # parsed, not yet consumed, bytes of `_buffer`

    # --- connecting ----------------------------------------------------------------

    @classmethod
    async def connect(
        cls,
        url: str,
        subprotocols: Sequence[str] | None = ("binary",),
        encodings: Sequence[int] = DEFAULT_ENCODINGS,
        receive_buffer: int | None = None,
        password: str | None = None,
        **kwargs: object,
    ) -> RfbClient:
        if receive_buffer is not None:
            # A small fixed kernel buffer (no autotuning), so a stalled viewer stalls soon.
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
            sock.setblocking(False)
            host_port = url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
            await asyncio.get_running_loop().sock_connect(sock, (host_port[0], int(host_port[1])))
            kwargs["sock"] = sock
        websocket = await connect(
            url,
            subprotocols=list(subprotocols) if subprotocols else None,  # type: ignore[arg-type]
            max_size=None,
            **kwargs,  # type: ignore[arg-type]
        )
        client = cls(websocket)
        await client.handshake(password)
        await client.send(b"\x00\x00\x00\x00" + VIEWER_PIXEL_FORMAT)
        await client.set_encodings(encodings)
        return client

    async def handshake(self, password: str | None = None) -> None:
        """Security None (the gateway); VncAuth with `password` (a VNC server itself,
        e.g. through websockify)."""
        version = await self.readexactly(12)
        assert version == b"RFB 003.008\n", version
        await self.send(version)
        (count,) = await self.readexactly(1)
        types = await self.readexactly(count)
        if password is None:
            assert types == b"\x01", types
            await self.send(b"\x01")
        else:
            assert 2 in types, types
            await self.send(b"\x02")
            await self.send(vnc_auth_response(password, await self.readexactly(16)))
        (result,) = struct.unpack(">I", await self.readexactly(4))
        assert result == 0
        await self.send(b"\x01")  # ClientInit, shared
        self.width, self.height = struct.unpack(">HH", await self.readexactly(4))
        self.server_pixel_format = await self.readexactly(16)
        (length,) = struct.unpack(">I", await self.readexactly(4))
        self.name = await self.readexactly(length)
        self._commit()
        self.pixels = np.zeros((self.height, self.width, 4), np.uint8)

    async def close(self) -> None:
        await self.websocket.close()

    # --- sending -------------------------------------------------------------------

    async def send(self, data: bytes) -> None:
        await self.websocket.send(data)

    async def set_encodings(self, encodings: Sequence[int]) -> None:
        await self.send(struct.pack(f">BxH{len(encodings)}i", 2, len(encodings), *encodings))

    async def request(self, incremental: bool = False) -> None:
        await self.send(struct.pack(">BBHHHH", 3, int(incremental), 0, 0, self.width, self.height))

    async def pointer(self, x: int, y: int, mask: int = 0) -> None:
        await self.send(struct.pack(">BBHH", 5, mask, x, y))

    async def key(self, key: int, down: bool) -> None:
        await self.send(struct.pack(">BBxxI", 4, int(down), key))

    # --- reading -------------------------------------------------------------------

    async def readexactly(self, n: int) -> bytes:
        """The next `n` bytes of the message being parsed; nothing is consumed until
        `_commit` (websockets' recv may be cancelled without losing a message)."""
        while len(self._buffer) - self._position < n:
            message = await self.websocket.recv()
            assert isinstance(message, bytes)
            self.bytes_read += len(message)
            self._buffer += message
        data = bytes(self._buffer[self._position : self._position + n])
        self._position += n
        return data

    def _commit(self) -> None:
        del self._buffer[: self._position]
        self._position = 0

    async def read_message(self) -> int:
        """Read and apply one server message; returns its type. Cancelled at any point
        (a timeout), it leaves the stream and the framebuffer as they were: the message is
        parsed whole before any byte is consumed or any pixel drawn."""
        self._position = 0
        (kind,) = await self.readexactly(1)
        draws: list[Callable[[], None]] = []
        if kind == 0:
            (count,) = struct.unpack(">xH", await self.readexactly(3))
            for _ in range(count):
                if not await self._read_rect(draws):
                    break
        elif kind == 2:
            pass  # bell
        elif kind == 3:
            (length,) = struct.unpack(">xxxi", await self.readexactly(7))
            text = await self.readexactly(abs(length))
            draws.append(lambda: setattr(self, "cut_text", text))
        else:
            raise AssertionError(f"unexpected server message {kind}")
        self._commit()
        for draw in draws:
            draw()
        if kind == 0:
            self.updates += 1
            self.update_times.append(time.monotonic())
        return kind

    async def _read_rect(self, draws: list[Callable[[], None]]) -> bool:
        x, y, w, h, encoding = struct.unpack(">HHHHi", await self.readexactly(12))
        draws.append(lambda: self.rects.append((x, y, w, h, encoding)))
        if encoding == LAST_RECT:
            return False
        if encoding == RAW:
            data = await self.readexactly(w * h * 4)
            draws.append(
                lambda: self._put(x, y, w, h, np.frombuffer(data, np.uint8).reshape(h, w, 4))
            )
        elif encoding == COPY_RECT:
            sx, sy = struct.unpack(">HH", await self.readexactly(4))
            draws.append(
                lambda: self._put(x, y, w, h, self.pixels[sy : sy + h, sx : sx + w].copy())
            )
        elif encoding == TIGHT:
            rgb = await self._read_tight(w, h)
            draws.append(lambda: self._put(x, y, w, h, rgb, channels=3))
        elif encoding == CURSOR:
            await self.readexactly(w * h * 4 + (w + 7) // 8 * h)
        elif encoding == DESKTOP_SIZE:
            draws.append(lambda: self._resize(w, h))
        else:
            raise AssertionError(f"unexpected encoding {encoding}")
        return True

    def _put(self, x: int, y: int, w: int, h: int, block: np.ndarray, channels: int = 4) -> None:
        self.pixels[y : y + h, x : x + w, :channels] = block

    def _resize(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.pixels = np.zeros((height, width, 4), np.uint8)

    async def _read_tight(self, w: int, h: int) -> np.ndarray:
        (control,) = await self.readexactly(1)
        if control >> 4 == 0x8:  # fill
            return np.frombuffer(await self.readexactly(3), np.uint8)
        assert control == 0x01, f"tight control {control:#x}"  # basic, stream 0, reset
        size = w * h * 3
        if size < 12:
            data = await self.readexactly(size)
        else:
            data = zlib.decompress(await self.readexactly(await self._compact_length()))
        return np.frombuffer(data, np.uint8).reshape(h, w, 3)

    async def _compact_length(self) -> int:
        length, shift = 0, 0
        for _ in range(3):
            (byte,) = await self.readexactly(1)
            length |= (byte & 0x7F if shift < 14 else byte) << shift
            if not byte & 0x80 or shift == 14:
                break
            shift += 7
        return length

    async def read_until(
        self, predicate: Callable[[RfbClient], bool], timeout: float = 10.0
    ) -> None:
        """Read messages (asking for more after each update, as noVNC does) until
        `predicate` holds; TimeoutError after `timeout` seconds. A message cut short by
        the timeout is read again whole by the next call."""
        async with asyncio.timeout(timeout):
            while not predicate(self):
                if await self.read_message() == 0:
                    await self.request(incremental=True)

    async def first_screen(self, timeout: float = 10.0) -> None:
        """Ask for the whole screen and read until it has come."""
        await self.request(incremental=False)
        seen = self.updates
        await self.read_until(lambda c: c.updates > seen, timeout)

    async def read_for(self, seconds: float) -> None:
        """Keep reading (and asking) for `seconds`."""
        with contextlib.suppress(TimeoutError):
            await self.read_until(lambda c: False, timeout=seconds)

    def stall(self) -> None:
        """Stop reading from the socket altogether (a viewer that hangs; connect it with a
        small `receive_buffer` so the kernel does not read megabytes on its behalf)."""
        self.websocket.transport.pause_reading()

    def resume(self) -> None:
        self.websocket.transport.resume_reading()

    def rgb(self) -> np.ndarray:
        return self.pixels[:, :, :3]


@contextlib.asynccontextmanager
async def serving(
    hubs: DesktopHubs, viewers: dict[str, Viewer], port: int = 0
) -> AsyncIterator[str]:
    """A bare websockets server on loopback (a free port unless given) that hands
    `/SESSION?viewer=NAME` to `hubs` as `viewers[NAME]`; yields its ws:// base URL."""

    async def handler(websocket: ServerConnection) -> None:
        path, _, query = websocket.request.path.partition("?")
        await hubs.serve_viewer(path.strip("/"), websocket, viewers[query.split("=", 1)[1]])

    async with serve(
        handler,
        "127.0.0.1",
        port,
        subprotocols=["binary"],  # type: ignore[list-item]
        select_subprotocol=_binary_or_none,
        max_size=MAX_VIEWER_MESSAGE_BYTES,
        # permessage-deflate would compress every viewer's copy of the shared bytes anew.
        compression=None,
        close_timeout=2,  # a stalled viewer never answers a close frame
    ) as server:
        port = server.sockets[0].getsockname()[1]
        yield f"ws://127.0.0.1:{port}"


def _binary_or_none(connection: ServerConnection, offered: Sequence[str]) -> str | None:
    return "binary" if "binary" in offered else None
