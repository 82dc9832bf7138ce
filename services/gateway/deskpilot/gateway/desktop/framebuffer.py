"""The shadow framebuffer: the desktop as the proxy last saw it, in the viewer pixel
format, one numpy array of height x width x 4 bytes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deskpilot.gateway.desktop.close_codes import CloseCode, DesktopError
from deskpilot.gateway.desktop.pixels import BYTES_PER_PIXEL


@dataclass(frozen=True)
class Screen:
    """A screen size, to check rectangles against."""

    width: int
    height: int

    def check(self, x: int, y: int, width: int, height: int) -> None:
        """Raise DesktopError unless the rectangle lies inside (checked before reading
        its pixels, so a bad header never makes the proxy read gigabytes)."""
        if x + width > self.width or y + height > self.height:
            raise DesktopError(
                CloseCode.DESKTOP_PROTOCOL,
                f"desktop sent a {width}x{height}+{x}+{y} rectangle outside "
                f"its {self.width}x{self.height} screen",
            )


class Framebuffer:
    def __init__(self, width: int, height: int) -> None:
        self.pixels = np.zeros((height, width, BYTES_PER_PIXEL), np.uint8)

    @property
    def width(self) -> int:
        return self.pixels.shape[1]

    @property
    def height(self) -> int:
        return self.pixels.shape[0]

    def put(self, x: int, y: int, width: int, height: int, data: bytes) -> None:
        block = np.frombuffer(data, np.uint8).reshape(height, width, BYTES_PER_PIXEL)
        self.pixels[y : y + height, x : x + width] = block

    def copy(self, src_x: int, src_y: int, x: int, y: int, width: int, height: int) -> None:
        block = self.pixels[src_y : src_y + height, src_x : src_x + width].copy()
        self.pixels[y : y + height, x : x + width] = block

    def region(self, x: int, y: int, width: int, height: int) -> np.ndarray:
        return self.pixels[y : y + height, x : x + width]

    def resize(self, width: int, height: int) -> None:
        self.pixels = np.zeros((height, width, BYTES_PER_PIXEL), np.uint8)
