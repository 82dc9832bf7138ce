"""Pixel formats. The proxy speaks one format to viewers: noVNC's 32 bpp true colour,
red in the first byte of each pixel, then green, then blue (RFC 6143, 7.4).

A viewer's SetPixelFormat is accepted when it describes that same byte layout (however it
spells it: little-endian shifts 0/8/16, or big-endian 24/16/8; depth 24 or 32) and closes
the viewer otherwise: converting per viewer would mean encoding every update once per
format, which fan-out exists to avoid. noVNC only ever asks for this format.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from deskpilot.gateway.desktop.close_codes import CloseCode, ViewerClosed

BYTES_PER_PIXEL = 4
_STRUCT = struct.Struct(">BBBBHHHBBB3x")
SIZE = _STRUCT.size  # 16


@dataclass(frozen=True)
class PixelFormat:
    bits_per_pixel: int
    depth: int
    big_endian: bool
    true_colour: bool
    red_max: int
    green_max: int
    blue_max: int
    red_shift: int
    green_shift: int
    blue_shift: int

    def pack(self) -> bytes:
        return _STRUCT.pack(
            self.bits_per_pixel, self.depth, int(self.big_endian), int(self.true_colour),
            self.red_max, self.green_max, self.blue_max,
            self.red_shift, self.green_shift, self.blue_shift,
        )  # fmt: skip

    @classmethod
    def unpack(cls, data: bytes) -> PixelFormat:
        bpp, depth, big, true, rmax, gmax, bmax, rs, gs, bs = _STRUCT.unpack(data)
        return cls(bpp, depth, bool(big), bool(true), rmax, gmax, bmax, rs, gs, bs)

    def byte_layout(self) -> tuple[int, int, int] | None:
        """Which byte of a pixel holds red, green and blue; None unless 32 bpp true colour
        with 8-bit channels on byte boundaries."""
        if self.bits_per_pixel != 32 or not self.true_colour:
            return None
        if (self.red_max, self.green_max, self.blue_max) != (255, 255, 255):
            return None
        shifts = (self.red_shift, self.green_shift, self.blue_shift)
        if any(s % 8 or s > 24 for s in shifts):
            return None
        return tuple(3 - s // 8 if self.big_endian else s // 8 for s in shifts)  # type: ignore[return-value]


VIEWER_FORMAT = PixelFormat(32, 24, False, True, 255, 255, 255, 0, 8, 16)


def check_viewer_format(requested: PixelFormat) -> None:
    """Raise ViewerClosed unless `requested` lays pixels out as VIEWER_FORMAT does."""
    if requested.byte_layout() != VIEWER_FORMAT.byte_layout():
        raise ViewerClosed(
            CloseCode.PIXEL_FORMAT,
            f"pixel format {requested.bits_per_pixel} bpp depth {requested.depth} not "
            "supported: only 32 bpp true colour, red-green-blue byte order",
        )
