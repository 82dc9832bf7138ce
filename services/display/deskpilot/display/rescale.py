"""Scale captured frames to the model's size, redoing only the rows that changed.

A resize is the largest cost of a fresh screenshot (~15 ms for 1920x1080 -> 1366x768 on
one core). Two things cut it:

- Strips on several threads: Pillow releases the GIL while resampling, and a strip
  resized from its source box equals the same rows of a whole-frame resize (the filter
  still reads the pixels just outside the box; the resampling centres can differ in the
  last bit of a double, so a value can differ by one level), so strips concatenate. This
  needs a filter that is continuous (not BOX or NEAREST, where a last-bit difference
  moves a whole source pixel in or out).
- Only what changed: a CRC-32 per pixel row (`Frame.row_checksums`) tells which rows
  differ from the last frame scaled; only the output rows whose filter window reaches
  them are recomputed and spliced into the previous result. A terminal echoing a line
  rescales a few rows, not the screen.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

from PIL import Image

from deskpilot.display.capture import Frame

# Filter radius in source pixels per unit of scale (Pillow's `support` per filter), for
# the continuous filters, which strips work with.
_FILTER_SUPPORT = {
    Image.Resampling.BILINEAR: 1.0,
    Image.Resampling.HAMMING: 1.0,
    Image.Resampling.BICUBIC: 2.0,
    Image.Resampling.LANCZOS: 3.0,
}
# Below this many output rows a strip is not worth handing to another thread.
_MIN_ROWS_PER_THREAD = 32


class Scaler:
    """Scales frames (BGRX) to packed RGB bytes, in horizontal strips on up to
    `workers` threads."""

    def __init__(self, resample: Image.Resampling, workers: int = 1) -> None:
        if resample not in _FILTER_SUPPORT:
            raise ValueError(f"scaling in strips needs a continuous filter, not {resample!r}")
        self.resample = resample
        self.workers = max(1, workers)
        self._pool = (
            ThreadPoolExecutor(self.workers - 1, thread_name_prefix="deskpilot-scale")
            if self.workers > 1
            else None
        )

    def rgb(
        self, frame: Frame, size: tuple[int, int], rows: tuple[int, int] | None = None
    ) -> bytes:
        """Output rows `rows` (default: all) of the frame scaled to `size`, as RGB bytes."""
        # The BGRX bytes wrapped as "RGBX" without copying: the filter treats channels
        # alike, so blue and red are swapped back only when packing the smaller output.
        image = Image.frombuffer(
            "RGBX", (frame.width, frame.height), frame.raw, "raw", "RGBX", 0, 1
        )
        width, height = size
        first, last = rows or (0, height)
        scale_y = frame.height / height

        def strip(top: int, bottom: int) -> bytes:
            if size == image.size:
                part = image.crop((0, top, width, bottom))
            else:
                box = (0, top * scale_y, frame.width, bottom * scale_y)
                part = image.resize((width, bottom - top), self.resample, box=box)
            return part.tobytes("raw", "BGR")

        strips = max(1, min(self.workers, (last - first) // _MIN_ROWS_PER_THREAD))
        if self._pool is None or strips == 1:
            return strip(first, last)
        bounds = [first + (last - first) * i // strips for i in range(strips + 1)]
        others = [self._pool.submit(strip, bounds[i], bounds[i + 1]) for i in range(1, strips)]
        head = strip(bounds[0], bounds[1])  # on the calling thread, while the pool works
        return b"".join([head, *(future.result() for future in others)])

    def output_rows(self, first: int, last: int, frame_height: int, height: int) -> tuple[int, int]:
        """Output rows whose filter window reaches source rows [first, last)."""
        scale = frame_height / height
        reach = math.ceil(_FILTER_SUPPORT[self.resample]) + 2  # rows, with margin
        return max(0, math.floor(first / scale) - reach), min(
            height, math.ceil(last / scale) + reach
        )

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)


class IncrementalScaler:
    """Keeps the last scaled frame and updates only the rows that changed."""

    def __init__(self, scaler: Scaler) -> None:
        self.scaler = scaler
        self._shape: tuple[int, int, int, int] | None = None
        self._rows: list[int] = []
        self._rgb = b""

    def rgb(self, frame: Frame, size: tuple[int, int]) -> tuple[bytes, bool]:
        """(the frame scaled to `size` as RGB bytes, whether it differs from last time)."""
        rows = frame.row_checksums
        shape = (frame.width, frame.height, *size)
        if shape != self._shape:
            rgb = self.scaler.rgb(frame, size)
        else:
            changed = [
                i for i, (new, old) in enumerate(zip(rows, self._rows, strict=True)) if new != old
            ]
            if not changed:
                return self._rgb, False
            top, bottom = self.scaler.output_rows(
                changed[0], changed[-1] + 1, frame.height, size[1]
            )
            stride = size[0] * 3
            strip = self.scaler.rgb(frame, size, (top, bottom))
            rgb = b"".join((self._rgb[: top * stride], strip, self._rgb[bottom * stride :]))
        self._shape, self._rows, self._rgb = shape, rows, rgb
        return rgb, True

    def close(self) -> None:
        self.scaler.close()
