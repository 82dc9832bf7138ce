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


def digest_of(data: bytes) -> bytes:
    """The content digest that identifies encoded screenshot bytes."""
    return hashlib.blake2b(data, digest_size=16).digest()


def decode_image(data: bytes) -> Image.Image:
    """Decode PNG/JPEG/WebP bytes to grayscale; raises ValueError when they are not an
    image."""
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except Exception as exc:  # noqa: BLE001 - Pillow raises many types for bad data
        raise ValueError(f"not a decodable image ({type(exc).__name__})") from None
    return image.convert("L")


class DecodedScreens:
    """A small LRU of decoded screenshots keyed by digest; safe across worker threads."""

    def __init__(self, capacity: int = 16) -> None:
        self._images: OrderedDict[bytes, Image.Image] = OrderedDict()
        self._lock = threading.Lock()
        self._capacity = capacity

    def decode(self, data: bytes) -> Image.Image:
        """The grayscale image of `data`, decoded at most once while it stays recent.
        Callers must not modify it (it is shared)."""
        digest = digest_of(data)
        with self._lock:
            image = self._images.get(digest)
            if image is not None:
                self._images.move_to_end(digest)
                return image
        image = decode_image(data)
        with self._lock:
            self._images[digest] = image
            while len(self._images) > self._capacity:
                self._images.popitem(last=False)
        return image
