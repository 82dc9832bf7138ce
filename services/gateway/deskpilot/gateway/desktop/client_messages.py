"""Client-to-server RFB messages (RFC 6143, 7.5, plus the extensions noVNC sends), parsed
one at a time from a byte stream. Each keeps its exact bytes (`raw`) for forwarding.

Anything that breaks framing or the message's own rules closes that viewer with a precise
code; sizes are checked before anything of that size is read.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from deskpilot.gateway.desktop import pixels
from deskpilot.gateway.desktop.close_codes import CloseCode, ViewerClosed
from deskpilot.gateway.desktop.pixels import PixelFormat
from deskpilot.gateway.desktop.streams import ByteSource

SET_PIXEL_FORMAT = 0
SET_ENCODINGS = 2
FRAMEBUFFER_UPDATE_REQUEST = 3
KEY_EVENT = 4
POINTER_EVENT = 5
CLIENT_CUT_TEXT = 6
ENABLE_CONTINUOUS_UPDATES = 150
FENCE = 248
XVP = 250
SET_DESKTOP_SIZE = 251
QEMU = 255

MAX_ENCODINGS = 256  # noVNC sends about 30
MAX_FENCE_PAYLOAD = 64  # rfbproto: "length ... must be 64 or less"
MAX_SCREENS = 16
DEFAULT_MAX_CLIPBOARD_BYTES = 256 * 1024


@dataclass(frozen=True)
class SetPixelFormat:
    pixel_format: PixelFormat
    raw: bytes = field(repr=False, compare=False)


@dataclass(frozen=True)
class SetEncodings:
    encodings: tuple[int, ...]
    raw: bytes = field(repr=False, compare=False)


@dataclass(frozen=True)
class FramebufferUpdateRequest:
    incremental: bool
    x: int
    y: int
    width: int
    height: int
    raw: bytes = field(repr=False, compare=False)


@dataclass(frozen=True)
class KeyEvent:
    down: bool
    key: int
    raw: bytes = field(repr=False, compare=False)


@dataclass(frozen=True)
class PointerEvent:
    mask: int
    x: int
    y: int
    raw: bytes = field(repr=False, compare=False)


@dataclass(frozen=True)
class ClientCutText:
    length: int  # negative: the extended-clipboard form
    raw: bytes = field(repr=False, compare=False)


@dataclass(frozen=True)
class EnableContinuousUpdates:
    enable: bool
    raw: bytes = field(repr=False, compare=False)


@dataclass(frozen=True)
class Fence:
    flags: int
    raw: bytes = field(repr=False, compare=False)


@dataclass(frozen=True)
class Xvp:
    code: int
    raw: bytes = field(repr=False, compare=False)


@dataclass(frozen=True)
class SetDesktopSize:
    width: int
    height: int
    raw: bytes = field(repr=False, compare=False)


@dataclass(frozen=True)
class QemuKeyEvent:
    down: bool
    keysym: int
    keycode: int
    raw: bytes = field(repr=False, compare=False)


@dataclass(frozen=True)
class QemuAudio:
    operation: int
    raw: bytes = field(repr=False, compare=False)


ClientMessage = (
    SetPixelFormat | SetEncodings | FramebufferUpdateRequest | KeyEvent | PointerEvent
    | ClientCutText | EnableContinuousUpdates | Fence | Xvp | SetDesktopSize | QemuKeyEvent
    | QemuAudio
)  # fmt: skip

# The messages that act on the desktop: only the controller's reach it.
INPUT_MESSAGES = (KeyEvent, PointerEvent, ClientCutText, Xvp, SetDesktopSize, QemuKeyEvent)


def key_event(down: bool, key: int) -> bytes:
    return struct.pack(">BBxxI", KEY_EVENT, int(down), key)


def pointer_event(mask: int, x: int, y: int) -> bytes:
    return struct.pack(">BBHH", POINTER_EVENT, mask, x, y)


def set_pixel_format(pixel_format: PixelFormat) -> bytes:
    return struct.pack(">Bxxx", SET_PIXEL_FORMAT) + pixel_format.pack()


def set_encodings(encodings: tuple[int, ...]) -> bytes:
    return struct.pack(f">BxH{len(encodings)}i", SET_ENCODINGS, len(encodings), *encodings)


def update_request(incremental: bool, width: int, height: int) -> bytes:
    return struct.pack(">BBHHHH", FRAMEBUFFER_UPDATE_REQUEST, int(incremental), 0, 0, width, height)


def _malformed(what: str) -> ViewerClosed:
    return ViewerClosed(CloseCode.RFB_MALFORMED, f"malformed RFB: {what}")


async def read_client_message(
    source: ByteSource, max_clipboard_bytes: int = DEFAULT_MAX_CLIPBOARD_BYTES
) -> ClientMessage:
    """The next whole message from `source`; raises ViewerClosed for anything else."""
    head = await source.readexactly(1)
    kind = head[0]
    if kind == SET_PIXEL_FORMAT:
        raw = head + await source.readexactly(3 + pixels.SIZE)
        return SetPixelFormat(PixelFormat.unpack(raw[4:]), raw)
    if kind == SET_ENCODINGS:
        fixed = head + await source.readexactly(3)
        (count,) = struct.unpack(">H", fixed[2:])
        if count > MAX_ENCODINGS:
            raise _malformed(f"SetEncodings lists {count} encodings (at most {MAX_ENCODINGS})")
        body = await source.readexactly(4 * count)
        return SetEncodings(struct.unpack(f">{count}i", body), fixed + body)
    if kind == FRAMEBUFFER_UPDATE_REQUEST:
        raw = head + await source.readexactly(9)
        incremental, x, y, w, h = struct.unpack(">BHHHH", raw[1:])
        return FramebufferUpdateRequest(bool(incremental), x, y, w, h, raw)
    if kind == KEY_EVENT:
        raw = head + await source.readexactly(7)
        down, key = struct.unpack(">BxxI", raw[1:])
        return KeyEvent(bool(down), key, raw)
    if kind == POINTER_EVENT:
        raw = head + await source.readexactly(5)
        mask, x, y = struct.unpack(">BHH", raw[1:])
        return PointerEvent(mask, x, y, raw)
    if kind == CLIENT_CUT_TEXT:
        fixed = head + await source.readexactly(7)
        (length,) = struct.unpack(">xxxi", fixed[1:])
        if abs(length) > max_clipboard_bytes:
            raise ViewerClosed(
                CloseCode.TOO_BIG,
                f"clipboard text of {abs(length)} bytes (at most {max_clipboard_bytes})",
            )
        return ClientCutText(length, fixed + await source.readexactly(abs(length)))
    if kind == ENABLE_CONTINUOUS_UPDATES:
        raw = head + await source.readexactly(9)
        return EnableContinuousUpdates(bool(raw[1]), raw)
    if kind == FENCE:
        fixed = head + await source.readexactly(8)
        flags, length = struct.unpack(">xxxIB", fixed[1:])
        if length > MAX_FENCE_PAYLOAD:
            raise _malformed(f"Fence payload of {length} bytes (at most {MAX_FENCE_PAYLOAD})")
        return Fence(flags, fixed + await source.readexactly(length))
    if kind == XVP:
        raw = head + await source.readexactly(3)
        return Xvp(raw[3], raw)
    if kind == SET_DESKTOP_SIZE:
        fixed = head + await source.readexactly(7)
        width, height, screens = struct.unpack(">xHHBx", fixed[1:])
        if not 1 <= screens <= MAX_SCREENS:
            raise _malformed(f"SetDesktopSize with {screens} screens (1..{MAX_SCREENS})")
        return SetDesktopSize(width, height, fixed + await source.readexactly(16 * screens))
    if kind == QEMU:
        return await _read_qemu(head, source)
    raise ViewerClosed(CloseCode.UNKNOWN_MESSAGE, f"unknown RFB client message type {kind}")


async def _read_qemu(head: bytes, source: ByteSource) -> ClientMessage:
    fixed = head + await source.readexactly(3)
    submessage, value = fixed[1], struct.unpack(">H", fixed[2:])[0]
    if submessage == 0:  # extended key event: down flag, keysym, keycode
        rest = await source.readexactly(8)
        keysym, keycode = struct.unpack(">II", rest)
        return QemuKeyEvent(bool(value), keysym, keycode, fixed + rest)
    if submessage == 1:  # audio: 0 enable, 1 disable, 2 set format (+6 bytes)
        if value > 2:
            raise _malformed(f"QEMU audio operation {value}")
        rest = await source.readexactly(6) if value == 2 else b""
        return QemuAudio(value, fixed + rest)
    raise ViewerClosed(CloseCode.UNKNOWN_MESSAGE, f"unknown QEMU client message {submessage}")
