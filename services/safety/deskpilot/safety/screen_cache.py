"""Recently seen screenshots by content digest, decoded once.

The gate meets the same bytes more than once: ScanContent reads the screenshot an action
returned, then CheckAction of the next click judges the label under the pointer in that
same screenshot. PNG decoding costs more than the rest of a click check (about 10 ms for
1280x800 on this class of machine), so the grayscale image (all OCR reads grayscale) is
kept for a few screenshots.
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections import OrderedDict

from PIL import Image

# The largest desktop the orchestrator accepts is 3840x2160 (8.3 megapixels); twice that
# leaves room for zoomed or unusual frames while bounding the memory one decode takes.
DEFAULT_MAX_PIXELS = 16_777_216
# Screenshots arrive as PNG, JPEG or WebP (the Image proto's formats). Other decoders
# (EPS runs Ghostscript, TIFF and PSD have large attack surfaces) are never tried.
FORMATS = ("PNG", "JPEG", "WEBP")


class ImageError(ValueError):
    """Bytes that are not an acceptable image; the message says why."""


def digest_of(data: bytes) -> bytes:
    """The content digest that identifies encoded screenshot bytes."""
    return hashlib.blake2b(data, digest_size=16).digest()


def _open(data: bytes, max_pixels: int) -> Image.Image:
    """The image with only its header read, refused when it is not PNG/JPEG/WebP or has
    more than `max_pixels` pixels, before any pixel is decoded."""
    try:
        image = Image.open(io.BytesIO(data), formats=FORMATS)
    except Image.DecompressionBombError:
        raise ImageError(_too_large_message(None, max_pixels)) from None
    except Exception as exc:  # noqa: BLE001 - Pillow raises many types for bad data
        raise ImageError(f"not a decodable image ({type(exc).__name__})") from None
    if image.width * image.height > max_pixels:
        raise ImageError(_too_large_message(image.size, max_pixels))
    return image


def _too_large_message(size: tuple[int, int] | None, max_pixels: int) -> str:
    limit = f"the limit is {max_pixels:,} pixels ({max_pixels / 1e6:.1f} megapixels)"
    if size is None:
        return f"image is far too large to decode; {limit}"
    width, height = size
    return f"image is {width}x{height} ({width * height / 1e6:.1f} megapixels); {limit}"


def check_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[int, int]:
    """The (width, height) from the header, without decoding; raises ImageError."""
    return _open(data, max_pixels).size


def decode_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Decode PNG/JPEG/WebP bytes to grayscale; raises ImageError when they are not an
    acceptable image or have more than `max_pixels` pixels."""
    image = _open(data, max_pixels)
    try:
        image.load()
    except Exception as exc:  # noqa: BLE001 - Pillow raises many types for bad data
        raise ImageError(f"not a decodable image ({type(exc).__name__})") from None
    return image.convert("L")


class DecodedScreens:
    """A small LRU of decoded screenshots keyed by digest; safe across worker threads."""

    def __init__(self, capacity: int = 16, max_pixels: int = DEFAULT_MAX_PIXELS) -> None:
        self._images: OrderedDict[bytes, Image.Image] = OrderedDict()
        self._lock = threading.Lock()
        self._capacity = capacity
        self.max_pixels = max_pixels

    def decode(self, data: bytes) -> Image.Image:
        """The grayscale image of `data`, decoded at most once while it stays recent.
        Callers must not modify it (it is shared)."""
        digest = digest_of(data)
        with self._lock:
            image = self._images.get(digest)
            if image is not None:
                self._images.move_to_end(digest)
                return image
        image = decode_image(data, self.max_pixels)
        with self._lock:
            self._images[digest] = image
            while len(self._images) > self._capacity:
                self._images.popitem(last=False)
        return image
