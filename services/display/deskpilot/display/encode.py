"""Scale and encode frames in memory (screenshots never touch the disk).

Scaling is Pillow's, straight on the captured BGRX bytes (no conversion of the full
frame first); PNG is written by `png.py` (no row filters, ISA-L deflate), JPEG and WebP
by Pillow.

The encoder remembers its last result: an unchanged frame asked for in the same size and
format is returned without encoding again, and a changed one is rescaled only where it
changed (see rescale.py; rows are recognised by CRC-32, so the 8 MB frame itself is not
kept alive).
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass

from PIL import Image

from deskpilot.common.errors import InvalidArgument
from deskpilot.display import png
from deskpilot.display.capture import Frame
from deskpilot.display.metrics import ENCODE_CACHE_HITS, ENCODE_SECONDS
from deskpilot.display.rescale import IncrementalScaler, Scaler
from deskpilot.display.scaling import Scaling, fit_size
from deskpilot.v1 import common_pb2

_FORMAT_NAMES = {
    common_pb2.IMAGE_FORMAT_PNG: "PNG",
    common_pb2.IMAGE_FORMAT_JPEG: "JPEG",
    common_pb2.IMAGE_FORMAT_WEBP: "WEBP",
}


@dataclass(frozen=True)
class EncodeOptions:
    """Encoder tuning. PNG deflate level 1 (of ISA-L's 0..3): bytes matter far less than
    latency here, and a screenshot costs the same tokens whatever its size in bytes."""

    png_compress_level: int = 1
    # Pillow's BILINEAR is a proper antialiasing filter when shrinking (its support grows
    # with the factor): text stays legible at half the cost of LANCZOS.
    resample: Image.Resampling = Image.Resampling.BILINEAR
    jpeg_quality: int = 80
    webp_quality: int = 80
    webp_method: int = 2
    # Threads scaling a frame (strips); one per core is what helps.
    scale_workers: int = 1


def resolve_format(fmt: int, quality: int) -> tuple[int, int]:
    """Validate a requested (format, quality); UNSPECIFIED means PNG."""
    if fmt == common_pb2.IMAGE_FORMAT_UNSPECIFIED:
        fmt = common_pb2.IMAGE_FORMAT_PNG
    if fmt not in _FORMAT_NAMES:
        raise InvalidArgument(f"unknown image format {fmt}; use PNG, JPEG or WEBP")
    if not 0 <= quality <= 100:
        raise InvalidArgument(f"screenshot quality must be 1..100 (0 = default), got {quality}")
    return fmt, quality


class Encoder:
    """Turns frames into `Image` messages."""

    def __init__(self, options: EncodeOptions | None = None) -> None:
        self.options = options or EncodeOptions()
        self.scaler = IncrementalScaler(Scaler(self.options.resample, self.options.scale_workers))
        self._cached_key: tuple[object, ...] | None = None
        self._cached_image: common_pb2.Image | None = None

    def screenshot(
        self, frame: Frame, scaling: Scaling, fmt: int, quality: int
    ) -> common_pb2.Image:
        """The whole frame scaled to the model's size."""
        started = time.perf_counter()
        size = (scaling.width, scaling.height)
        rgb, changed = self.scaler.rgb(frame, size)
        key = (size, fmt, quality)
        if not changed and key == self._cached_key and self._cached_image is not None:
            ENCODE_CACHE_HITS.inc()
            return self._cached_image
        result = self._encode_rgb(rgb, size, fmt, quality)
        self._cached_key, self._cached_image = key, result
        ENCODE_SECONDS.labels(_FORMAT_NAMES[fmt].lower()).observe(time.perf_counter() - started)
        return result

    def close(self) -> None:
        self.scaler.close()

    def zoom(
        self, frame: Frame, box: tuple[int, int, int, int], scaling: Scaling, fmt: int, quality: int
    ) -> common_pb2.Image:
        """A physical region of the frame, scaled to fit the model's screenshot size."""
        started = time.perf_counter()
        region = frame.to_image().crop(box)
        size = fit_size(region.width, region.height, scaling.width, scaling.height)
        if size != region.size:
            region = region.resize(size, Image.Resampling.LANCZOS)
        result = self._encode_rgb(region.tobytes(), region.size, fmt, quality)
        ENCODE_SECONDS.labels(_FORMAT_NAMES[fmt].lower()).observe(time.perf_counter() - started)
        return result

    def _encode_rgb(
        self, rgb: bytes, size: tuple[int, int], fmt: int, quality: int
    ) -> common_pb2.Image:
        width, height = size
        if fmt == common_pb2.IMAGE_FORMAT_PNG:
            data = png.encode_rgb(rgb, width, height, self.options.png_compress_level)
        else:
            data = self._encode_lossy(
                Image.frombuffer("RGB", size, rgb, "raw", "RGB", 0, 1), fmt, quality
            )
        return common_pb2.Image(format=fmt, data=data, width=width, height=height)

    def _encode_lossy(self, image: Image.Image, fmt: int, quality: int) -> bytes:
        buffer = io.BytesIO()
        if fmt == common_pb2.IMAGE_FORMAT_JPEG:
            image.save(buffer, "JPEG", quality=quality or self.options.jpeg_quality)
        else:
            image.save(
                buffer,
                "WEBP",
                quality=quality or self.options.webp_quality,
                method=self.options.webp_method,
            )
        return buffer.getvalue()
