"""Server-to-client RFB messages from the VNC server, for the fan-out hub (RFC 6143, 7.6):
framebuffer updates are read rectangle by rectangle and applied to the shadow
framebuffer as they come; only the encodings the hub asked for are accepted."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from deskpilot.gateway.desktop import encodings as enc
from deskpilot.gateway.desktop.close_codes import CloseCode, DesktopError
from deskpilot.gateway.desktop.encoder import Rect
from deskpilot.gateway.desktop.framebuffer import Framebuffer, Screen
from deskpilot.gateway.desktop.pixels import BYTES_PER_PIXEL
from deskpilot.gateway.desktop.upstream import Upstream

FRAMEBUFFER_UPDATE = 0
SET_COLOUR_MAP_ENTRIES = 1
BELL = 2
SERVER_CUT_TEXT = 3
END_OF_CONTINUOUS_UPDATES = 150
FENCE = 248
XVP = 250

MAX_CURSOR_SIDE = 256
MAX_RECTS = 65535
_SKIP_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Update:
    rects: list[Rect]
    resized: bool


@dataclass(frozen=True)
class Bell:
    pass


@dataclass(frozen=True)
class CutText:
    raw: bytes  # the whole ServerCutText message, ready to relay


@dataclass(frozen=True)
class Ignored:
    pass


DesktopMessage = Update | Bell | CutText | Ignored


def _protocol(what: str) -> DesktopError:
    return DesktopError(CloseCode.DESKTOP_PROTOCOL, f"desktop sent {what}")


async def read_desktop_message(
    up: Upstream, framebuffer: Framebuffer, max_cut_text: int
) -> DesktopMessage:
    (kind,) = await up.readexactly(1)
    if kind == FRAMEBUFFER_UPDATE:
        (count,) = struct.unpack(">xH", await up.readexactly(3))
        return await _read_update(up, framebuffer, count)
    if kind == SET_COLOUR_MAP_ENTRIES:  # never used in true colour; read past it
        _first, count = struct.unpack(">xHH", await up.readexactly(5))
        await up.readexactly(6 * count)
        return Ignored()
    if kind == BELL:
        return Bell()
    if kind == SERVER_CUT_TEXT:
        head = await up.readexactly(7)
        (length,) = struct.unpack(">xxxi", head)
        if abs(length) > max_cut_text:
            await _skip(up, abs(length))
            return Ignored()
        return CutText(bytes([kind]) + head + await up.readexactly(abs(length)))
    if kind == END_OF_CONTINUOUS_UPDATES:
        return Ignored()
    if kind == FENCE:
        _flags, length = struct.unpack(">xxxIB", await up.readexactly(8))
        await up.readexactly(length)
        return Ignored()
    if kind == XVP:
        await up.readexactly(3)
        return Ignored()
    raise _protocol(f"unknown message type {kind}")


async def _skip(up: Upstream, length: int) -> None:
    while length:
        step = min(length, _SKIP_CHUNK)
        await up.readexactly(step)
        length -= step


async def _read_update(up: Upstream, fb: Framebuffer, count: int) -> Update:
    """Read the whole update, then apply it to `fb` at once: between two awaits the
    shadow framebuffer always shows a whole number of updates, so a keyframe taken at
    any moment agrees with the CopyRects queued after it."""
    rects: list[Rect] = []
    size = Screen(fb.width, fb.height)  # as it will be at this point of the update
    resize: Screen | None = None
    for _ in range(count):
        x, y, w, h, encoding = struct.unpack(">HHHHi", await up.readexactly(12))
        if encoding == enc.LAST_RECT:
            break
        if encoding == enc.RAW:
            size.check(x, y, w, h)
            data = await up.readexactly(w * h * BYTES_PER_PIXEL)
        elif encoding == enc.COPY_RECT:
            size.check(x, y, w, h)
            data = await up.readexactly(4)
            src_x, src_y = struct.unpack(">HH", data)
            size.check(src_x, src_y, w, h)
        elif encoding == enc.CURSOR:
            if w > MAX_CURSOR_SIDE or h > MAX_CURSOR_SIDE:
                raise _protocol(f"a {w}x{h} cursor")
            data = await up.readexactly(w * h * BYTES_PER_PIXEL + (w + 7) // 8 * h)
        elif encoding == enc.DESKTOP_SIZE:
            # What came before it drew on the screen that is now gone (but a cursor
            # shape stays the cursor).
            rects = [rect for rect in rects if rect.encoding == enc.CURSOR]
            size = resize = Screen(w, h)
            continue
        else:
            raise _protocol(f"encoding {encoding}, which it was not asked for")
        rects.append(Rect(x, y, w, h, encoding, data))
    if resize is not None:
        fb.resize(resize.width, resize.height)
    for rect in rects:
        if rect.encoding == enc.RAW:
            fb.put(rect.x, rect.y, rect.width, rect.height, rect.data)
        elif rect.encoding == enc.COPY_RECT:
            src_x, src_y = struct.unpack(">HH", rect.data)
            fb.copy(src_x, src_y, rect.x, rect.y, rect.width, rect.height)
    return Update(rects, resize is not None)
