"""An RFB viewer for the gateway benchmark's many viewers that costs what a browser that
keeps up costs the proxy, and little of the benchmark's own CPU: it speaks websocket
framing itself, reads into one large buffer, parses RFB framing only (message types,
rectangle headers and lengths), skips pixel payloads without copying or decoding them,
and asks for the next update as soon as one has ended, as noVNC does. Raw, CopyRect,
Tight (every kind of rectangle, JPEG included, with its lengths followed but nothing
inflated), Cursor, DesktopSize and LastRect: what the benchmark asks for.
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
from collections.abc import Generator
from urllib.parse import urlsplit

from deskpilot.gateway.desktop.vncauth import vnc_auth_response
from tests.helpers.rfb_client import (
    COPY_RECT,
    CURSOR,
    DESKTOP_SIZE,
    LAST_RECT,
    RAW,
    TIGHT,
    VIEWER_PIXEL_FORMAT,
)

_RECT = struct.Struct(">HHHHi")
_RECEIVE_BUFFER = 1024 * 1024
_OPCODE_BINARY, _OPCODE_CLOSE, _OPCODE_PING, _OPCODE_PONG = 0x2, 0x8, 0x9, 0xA

# What the RFB parser yields: n > 0 asks for the next n bytes, n < 0 skips -n bytes.
Parser = Generator[int, bytes | None, None]

_TPIXEL = 3  # Tight sends a 32-bit, depth-24 pixel as three bytes
_TIGHT_FILL, _TIGHT_JPEG = 0x8, 0x9
_TIGHT_PALETTE = 1
_TIGHT_MIN_TO_COMPRESS = 12  # smaller data goes uncompressed, with no length


class CountingViewer(asyncio.BufferedProtocol):
    def __init__(self, path: str, host: str, password: str | None, encodings: tuple[int, ...]):
        self._path, self._host = path, host
        self._password = password
        self._encodings = encodings
        self._buffer = bytearray(_RECEIVE_BUFFER)
        self._transport: asyncio.Transport | None = None
        self._http = bytearray()  # the upgrade response, until it has ended
        self._frame_head = bytearray()
        self._frame_left = 0
        self._opcode = 0
        self._control = bytearray()
        self._rfb: Parser = self._parse()
        self._want = next(self._rfb)
        self._head = bytearray()
        self.width = self.height = 0
        self.updates = 0
        self.first_update = asyncio.Event()
        self.closed = asyncio.Event()
        self.error: BaseException | None = None

    # --- asyncio ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(
            f"GET {self._path} HTTP/1.1\r\nHost: {self._host}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: binary\r\n\r\n".encode()
        )

    def get_buffer(self, sizehint: int) -> memoryview:
        return memoryview(self._buffer)

    def buffer_updated(self, nbytes: int) -> None:
        try:
            self._received(memoryview(self._buffer)[:nbytes])
        except Exception as exc:  # noqa: BLE001 - ends this viewer, reported by the bench
            self.error = exc
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed.set()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    # --- websocket framing -----------------------------------------------------------

    def _received(self, view: memoryview) -> None:
        if self._http is not None and not self._upgraded(view):
            return
        if self._http is not None:  # the upgrade ended inside this read
            view, self._http = view[self._http_tail :], None
        i, n = 0, len(view)
        while i < n:
            if self._frame_left:
                take = min(self._frame_left, n - i)
                if self._opcode >= _OPCODE_CLOSE:
                    self._control += view[i : i + take]
                else:
                    self._feed(view[i : i + take])
                i += take
                self._frame_left -= take
                if not self._frame_left and self._opcode >= _OPCODE_CLOSE:
                    self._on_control()
                continue
            self._frame_head.append(view[i])
            i += 1
            self._frame_header()

    def _upgraded(self, view: memoryview) -> bool:
        start = len(self._http)
        self._http += view
        end = self._http.find(b"\r\n\r\n")
        if end < 0:
            return False
        if not self._http.startswith(b"HTTP/1.1 101"):
            raise ConnectionError(bytes(self._http[:end]).decode(errors="replace"))
        self._http_tail = end + 4 - start
        return True

    def _frame_header(self) -> None:
        head = self._frame_head
        if len(head) < 2:
            return
        short = head[1] & 0x7F
        need = 2 + {126: 2, 127: 8}.get(short, 0)
        if len(head) < need:
            return
        length = short if need == 2 else int.from_bytes(head[2:need], "big")
        opcode = head[0] & 0x0F
        if opcode:  # 0 continues the previous frame's message
            self._opcode = opcode
        head.clear()
        self._frame_left = length
        if not length and self._opcode >= _OPCODE_CLOSE:
            self._on_control()

    def _on_control(self) -> None:
        payload, self._control = bytes(self._control), bytearray()
        if self._opcode == _OPCODE_PING:
            self._send_frame(_OPCODE_PONG, payload)
        elif self._opcode == _OPCODE_CLOSE:
            self.close()

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        n = len(payload)
        if n < 126:
            length = bytes([0x80 | n])
        elif n < 1 << 16:
            length = bytes([0x80 | 126]) + n.to_bytes(2, "big")
        else:
            length = bytes([0x80 | 127]) + n.to_bytes(8, "big")
        # A zero mask key: masked as clients must, and the payload stays as it is.
        assert self._transport is not None
        self._transport.write(bytes([0x80 | opcode]) + length + b"\0\0\0\0" + payload)

    def send(self, data: bytes) -> None:
        self._send_frame(_OPCODE_BINARY, data)

    # --- RFB framing -----------------------------------------------------------------

    def _feed(self, view: memoryview) -> None:
        i, n = 0, len(view)
        while i < n:
            want = self._want
            if want < 0:
                take = min(-want, n - i)
                i += take
                self._want = want + take or self._advance(None)
                continue
            take = min(want - len(self._head), n - i)
            self._head += view[i : i + take]
            i += take
            if len(self._head) == want:
                data = bytes(self._head)
                self._head.clear()
                self._want = self._advance(data)

    def _advance(self, data: bytes | None) -> int:
        want = self._rfb.send(data)
        while want == 0:
            want = self._rfb.send(b"")
        return want

    def _parse(self) -> Parser:
        version = yield 12
        assert version == b"RFB 003.008\n", version
        self.send(version)
        (count,) = yield 1
        types = yield count
        assert types is not None
        if self._password is None:
            self.send(b"\x01")
        else:
            assert 2 in types, types
            self.send(b"\x02")
            challenge = yield 16
            assert challenge is not None
            self.send(vnc_auth_response(self._password, challenge))
        result = yield 4
        assert result == b"\0\0\0\0", "RFB security refused"
        self.send(b"\x01")  # ClientInit, shared
        init = yield 24
        assert init is not None
        self.width, self.height = struct.unpack(">HH", init[:4])
        yield -struct.unpack(">I", init[20:])[0]  # the desktop's name
        encodings = struct.pack(f">BxH{len(self._encodings)}i", 2, len(self._encodings),
                                *self._encodings)  # fmt: skip
        self.send(b"\0\0\0\0" + VIEWER_PIXEL_FORMAT + encodings + self._request(False))
        while True:
            (kind,) = yield 1
            if kind == 0:
                (count,) = struct.unpack(">xH", (yield 3))
                for _ in range(count):
                    _, _, w, h, encoding = _RECT.unpack((yield 12))
                    if encoding == LAST_RECT:
                        break
                    if encoding == RAW:
                        yield -(w * h * 4)
                    elif encoding == COPY_RECT:
                        yield -4
                    elif encoding == TIGHT:
                        yield from _skip_tight(w, h)
                    elif encoding == CURSOR:
                        yield -(w * h * 4 + (w + 7) // 8 * h)
                    elif encoding == DESKTOP_SIZE:
                        self.width, self.height = w, h
                    else:
                        raise AssertionError(f"unexpected encoding {encoding}")
                self.updates += 1
                self.first_update.set()
                self.send(self._request(True))
            elif kind == 3:  # ServerCutText
                (length,) = struct.unpack(">xxxi", (yield 7))
                yield -abs(length)
            elif kind != 2:  # 2: bell
                raise AssertionError(f"unexpected server message {kind}")

    def _request(self, incremental: bool) -> bytes:
        return struct.pack(">BBHHHH", 3, int(incremental), 0, 0, self.width, self.height)


def _skip_tight(width: int, height: int) -> Parser:
    """Past one Tight rectangle (rfbproto, "Tight Encoding"), reading only its lengths."""
    (control,) = yield 1
    kind = control >> 4
    if kind == _TIGHT_FILL:
        yield -_TPIXEL
        return
    if kind == _TIGHT_JPEG:
        yield -(yield from _compact_length())
        return
    if kind & 0x8:
        raise AssertionError(f"unexpected Tight compression {kind:#x}")
    size = width * height * _TPIXEL  # the copy and gradient filters
    if kind & 0x4:  # an explicit filter
        (kind_of_filter,) = yield 1
        if kind_of_filter == _TIGHT_PALETTE:
            (last,) = yield 1
            colours = last + 1
            yield -(colours * _TPIXEL)
            size = ((width + 7) // 8 if colours == 2 else width) * height
    yield -(size if size < _TIGHT_MIN_TO_COMPRESS else (yield from _compact_length()))


def _compact_length() -> Generator[int, bytes | None, int]:
    """Tight's 1-3 byte length: seven bits per byte, low first, the top bit says more."""
    length = 0
    for shift in (0, 7, 14):
        (byte,) = yield 1
        length |= (byte & (0x7F if shift < 14 else 0xFF)) << shift
        if shift == 14 or not byte & 0x80:
            break
    return length


async def open_counting_viewer(
    url: str, password: str | None = None, encodings: tuple[int, ...] = (COPY_RECT, RAW)
) -> CountingViewer:
    """Connect to `url` (ws://host:port/path) and return once the first update is in."""
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    viewer = CountingViewer(path or "/", parts.netloc, password, encodings)
    loop = asyncio.get_running_loop()
    await loop.create_connection(lambda: viewer, parts.hostname, parts.port)
    first = asyncio.create_task(viewer.first_update.wait())
    closed = asyncio.create_task(viewer.closed.wait())
    await asyncio.wait({first, closed}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
    for task in (first, closed):
        task.cancel()
    if not viewer.first_update.is_set():
        viewer.close()
        raise ConnectionError(f"no first update ({viewer.error!r})")
    return viewer
