"""RFB encoding numbers (RFC 6143, 7.7, and the community rfbproto document) and which
of them the proxy can follow."""

from __future__ import annotations

RAW = 0
COPY_RECT = 1
RRE = 2
HEXTILE = 5
ZLIB = 6
TIGHT = 7
ZLIB_HEX = 8
TRLE = 15
ZRLE = 16

DESKTOP_SIZE = -223
LAST_RECT = -224
POINTER_POS = -232
CURSOR = -239
X_CURSOR = -240
QEMU_POINTER_MOTION = -257
QEMU_EXTENDED_KEY = -258
DESKTOP_NAME = -307
EXTENDED_DESKTOP_SIZE = -308
XVP = -309
FENCE = -312
CONTINUOUS_UPDATES = -313
COMPRESS_LEVELS = range(-256, -246)  # -256..-247
QUALITY_LEVELS = range(-32, -22)  # -32..-23

# What a pass-through viewer may ask the VNC server for: the server's reply is relayed
# unparsed, so any of these is fine in that direction; what is left out would change
# what the client sends in ways the proxy does not parse (extended mouse buttons,
# extended clipboard, audio) or is unknown.
PASSTHROUGH_FOLLOWABLE = frozenset(
    {RAW, COPY_RECT, RRE, HEXTILE, ZLIB, TIGHT, ZLIB_HEX, TRLE, ZRLE}
    | {DESKTOP_SIZE, LAST_RECT, POINTER_POS, CURSOR, X_CURSOR, QEMU_POINTER_MOTION}
    | {QEMU_EXTENDED_KEY, DESKTOP_NAME, EXTENDED_DESKTOP_SIZE, XVP, FENCE, CONTINUOUS_UPDATES}
    | set(COMPRESS_LEVELS)
    | set(QUALITY_LEVELS)
)

# What the fan-out proxy asks the VNC server for: encodings it decodes into its shadow
# framebuffer cheaply (Raw costs the VNC server nothing to encode; the link is local).
FANOUT_UPSTREAM = (COPY_RECT, RAW, CURSOR, DESKTOP_SIZE, LAST_RECT)


def followable(encodings: tuple[int, ...]) -> tuple[int, ...]:
    """`encodings` without the ones a pass-through viewer may not ask for (order kept)."""
    return tuple(e for e in encodings if e in PASSTHROUGH_FOLLOWABLE)
