"""Viewer-bound framebuffer updates, built once per kind of viewer and shared as bytes.

Two stateless pixel encodings: Raw, and Tight with its zlib stream reset on every
rectangle (so no viewer depends on what another received; rfbproto, "Tight Encoding").
ZRLE and Tight without resets keep one zlib stream per connection and cannot be shared.
In-sync viewers get the desktop's CopyRects as they came: their screens equal the
shadow framebuffer before each update, so a copy means the same on all of them.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

import numpy as np

from deskpilot.gateway.desktop import encodings as enc

_RECT = struct.Struct(">HHHHi")
_TIGHT_MAX_WIDTH = 2048  # rfbproto: wider Tight rectangles must be split
_TIGHT_BAND_BYTES = 1 << 20  # keeps each compressed length inside Tight's 22-bit field
_TIGHT_MIN_TO_COMPRESS = 12
_TIGHT_FILL = 0x80
_TIGHT_BASIC_RESET_STREAM_0 = 0x01  # basic compression, stream 0, copy filter, reset first
_ZLIB_LEVEL = 1  # the desktop is local and viewers are many: speed over ratio


@dataclass(frozen=True)
class Caps:
    """What a viewer's SetEncodings allows the proxy to send it."""

    copy_rect: bool = False
    tight: bool = False
    cursor: bool = False
    resize: bool = False

    @classmethod
    def from_encodings(cls, encodings: tuple[int, ...]) -> Caps:
        listed = set(encodings)
        return cls(
            copy_rect=enc.COPY_RECT in listed,
            tight=enc.TIGHT in listed,
            cursor=enc.CURSOR in listed,
            resize=bool(listed & {enc.DESKTOP_SIZE, enc.EXTENDED_DESKTOP_SIZE}),
        )


@dataclass(frozen=True)
class Rect:
    """One rectangle of a desktop update, as received (`data` after its header)."""

    x: int
    y: int
    width: int
    height: int
    encoding: int
    data: bytes

    def header(self) -> bytes:
        return rect_header(self.x, self.y, self.width, self.height, self.encoding)


@dataclass(frozen=True)
class Rects:
    """Rectangles ready to send, without the FramebufferUpdate header: a viewer's outbox
    puts several of them behind one header (see outbox.py)."""

    count: int
    chunks: tuple[bytes, ...]

    @property
    def size(self) -> int:
        return sum(map(len, self.chunks))


NO_RECTS = Rects(0, ())


def rect_header(x: int, y: int, width: int, height: int, encoding: int) -> bytes:
    return _RECT.pack(x, y, width, height, encoding)


def update_header(rects: int) -> bytes:
    return struct.pack(">BxH", 0, rects)


def pixel_rect(x: int, y: int, block: np.ndarray, tight: bool) -> list[bytes]:
    """`block` (height x width x 4, viewer format) as rectangles, header included."""
    height, width = block.shape[:2]
    if not tight:
        return [rect_header(x, y, width, height, enc.RAW), block.tobytes()]
    out: list[bytes] = []
    rows = max(1, _TIGHT_BAND_BYTES // max(1, min(width, _TIGHT_MAX_WIDTH) * 3))
    for left in range(0, width, _TIGHT_MAX_WIDTH):
        for top in range(0, height, rows):
            part = block[top : top + rows, left : left + _TIGHT_MAX_WIDTH]
            h, w = part.shape[:2]
            out.append(rect_header(x + left, y + top, w, h, enc.TIGHT))
            out.append(_tight_body(part))
    return out


def _tight_body(block: np.ndarray) -> bytes:
    rgb = block[:, :, :3]  # TPIXEL: red, green, blue bytes (the viewer format's order)
    first = rgb[0, 0]
    if (rgb == first).all():
        return bytes([_TIGHT_FILL]) + first.tobytes()
    data = np.ascontiguousarray(rgb).tobytes()
    if len(data) < _TIGHT_MIN_TO_COMPRESS:
        return bytes([_TIGHT_BASIC_RESET_STREAM_0]) + data
    packed = zlib.compress(data, _ZLIB_LEVEL)
    return bytes([_TIGHT_BASIC_RESET_STREAM_0]) + _compact_length(len(packed)) + packed


def _compact_length(n: int) -> bytes:
    out = [n & 0x7F]
    if n > 0x7F:
        out[0] |= 0x80
        out.append(n >> 7 & 0x7F)
        if n > 0x3FFF:
            out[1] |= 0x80
            out.append(n >> 14 & 0xFF)
    return bytes(out)


class EncodedUpdate:
    """One desktop update for viewers. `rects(caps)` must be called for every viewer
    while the shadow framebuffer still shows this update (during the broadcast): each
    kind of viewer costs one encoding, cached, and gets the same bytes objects."""

    def __init__(self, rects: list[Rect], pixels: np.ndarray) -> None:
        self._rects = rects
        self._pixels = pixels
        self._pieces: dict[tuple[int, bool, bool], list[bytes]] = {}  # (rect, tight, copies)
        self._done: dict[Caps, Rects] = {}

    def rects(self, caps: Caps) -> Rects:
        """The update's rectangles for such a viewer; none when it has nothing for it."""
        done = self._done.get(caps)
        if done is None:
            done = self._done[caps] = self._build(caps)
        return done

    def _build(self, caps: Caps) -> Rects:
        out: list[bytes] = []
        for index, rect in enumerate(self._rects):
            out += self._encode(index, rect, caps)
        return Rects(len(out) // 2, tuple(out)) if out else NO_RECTS

    def _encode(self, index: int, rect: Rect, caps: Caps) -> list[bytes]:
        if rect.encoding == enc.CURSOR:
            return [rect.header(), rect.data] if caps.cursor else []
        if rect.encoding == enc.COPY_RECT and caps.copy_rect:
            return [rect.header(), rect.data]
        if rect.encoding not in (enc.RAW, enc.COPY_RECT):
            return []
        key = (index, caps.tight, caps.copy_rect)
        pieces = self._pieces.get(key)
        if pieces is None:
            if caps.copy_rect:
                # In order with the copies: the pixels as they came.
                shape = (rect.height, rect.width, 4)
                block = np.frombuffer(rect.data, np.uint8).reshape(shape)
            else:
                # No copies: every rectangle from the final picture, order no longer matters.
                block = self._pixels[rect.y : rect.y + rect.height, rect.x : rect.x + rect.width]
            if not caps.tight and caps.copy_rect:
                pieces = [rect.header(), rect.data]
            else:
                pieces = pixel_rect(rect.x, rect.y, block, caps.tight)
            self._pieces[key] = pieces
        return pieces


class Keyframe:
    """The whole screen at one moment (a copy of the shadow framebuffer), for viewers that
    join, ask for it, or fell behind; encoded once per kind of viewer, on first use."""

    def __init__(self, pixels: np.ndarray, cursor: list[bytes]) -> None:
        self.pixels = pixels.copy()
        self._cursor = cursor  # the last cursor shape's rectangle (header, data), or []
        self._done: dict[tuple[bool, bool], Rects] = {}

    @property
    def size(self) -> int:
        return self.pixels.nbytes

    def rects(self, caps: Caps) -> Rects:
        key = (caps.tight, caps.cursor)
        done = self._done.get(key)
        if done is None:
            cursor = self._cursor if caps.cursor else []
            chunks = (*cursor, *pixel_rect(0, 0, self.pixels, caps.tight))
            done = self._done[key] = Rects(len(chunks) // 2, chunks)
        return done


def desktop_size_rects(width: int, height: int) -> Rects:
    return Rects(1, (rect_header(0, 0, width, height, enc.DESKTOP_SIZE),))
