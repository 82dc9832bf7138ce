"""Screen capture in process through mss (XShmGetImage when the server allows it).

Frames are raw BGRX bytes; comparing two frames is a memcmp, which is what the settle loop
needs first. Not thread-safe: used from the executor's single X worker thread.
"""

from __future__ import annotations

import logging
import time
import zlib
from dataclasses import dataclass
from functools import cached_property

import mss
from mss.exception import ScreenShotError
from PIL import Image

from deskpilot.display.metrics import CAPTURE_SECONDS, CAPTURES

log = logging.getLogger("deskpilot.display.capture")


@dataclass(frozen=True)
class Frame:
    """One captured screen: raw BGRX pixels and when they were taken."""

    raw: bytes | bytearray  # never modified once captured
    width: int
    height: int
    taken_at: float

    @cached_property
    def row_checksums(self) -> list[int]:
        """CRC-32 of every pixel row (1-3 ms for 1920x1080; no copies), computed once per
        frame: the encoder finds the rows to rescale with them, and settling compares the
        next action's frames with the last settled one's. A changed row goes unnoticed only
        if its CRC collides (odds 1 in 2**32 per changed row)."""
        return self._checksums(0, self.height)

    def row_checksums_between(self, top: int, bottom: int) -> list[int]:
        """`row_checksums[top:bottom]`, without computing the other rows' first."""
        if "row_checksums" in self.__dict__:  # already computed (cached_property's slot)
            return self.row_checksums[top:bottom]
        return self._checksums(top, bottom)

    def _checksums(self, top: int, bottom: int) -> list[int]:
        view = memoryview(self.raw)
        stride = self.width * 4
        return [zlib.crc32(view[row * stride : (row + 1) * stride]) for row in range(top, bottom)]

    def to_image(self) -> Image.Image:
        return Image.frombuffer("RGB", (self.width, self.height), self.raw, "raw", "BGRX", 0, 1)


class ScreenCapture:
    """Grabs the whole root window of one display."""

    def __init__(self, display: str) -> None:
        self.display = display
        self.backend = "default"
        try:
            self._mss = mss.MSS(display=display)
        except ScreenShotError as exc:
            # mss's XCB backends reject some servers' visual layouts (e.g. Xvnc);
            # the Xlib backend handles them, without shared memory.
            log.info("mss default backend unavailable (%s); using xlib", exc)
            self.backend = "xlib"
            self._mss = mss.MSS(display=display, backend="xlib")
        self.monitor = dict(self._mss.monitors[0])

    @property
    def size(self) -> tuple[int, int]:
        return int(self.monitor["width"]), int(self.monitor["height"])

    def grab(self) -> Frame:
        started = time.perf_counter()
        shot = self._mss.grab(self.monitor)
        # mss hands back a fresh bytearray per grab; copying it to `bytes` would cost
        # ~1.5 ms per 1920x1080 frame, on every settle poll.
        frame = Frame(shot.raw, shot.width, shot.height, time.monotonic())
        CAPTURES.inc()
        CAPTURE_SECONDS.observe(time.perf_counter() - started)
        return frame

    def close(self) -> None:
        self._mss.close()
