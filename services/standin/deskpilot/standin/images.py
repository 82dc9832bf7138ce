"""Image blocks: the checks the real API applies, and the image's real size for counting."""

from __future__ import annotations

import base64
import binascii
import io
import math
from dataclasses import dataclass
from typing import Any

from PIL import Image, UnidentifiedImageError

from deskpilot.standin.errors import InvalidRequest

MEDIA_TYPES_BY_FORMAT = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "GIF": "image/gif",
    "WEBP": "image/webp",
}
MAX_IMAGE_BYTES = 5 * 1024 * 1024  # measured on the base64 text, as the API does
MAX_IMAGE_SIDE_PX = 8000
# With more than this many images in one request, each side must fit a smaller limit.
MANY_IMAGES = 20
MANY_IMAGES_MAX_SIDE_PX = 2000
MAX_IMAGES_PER_REQUEST = 100
PIXELS_PER_TOKEN = 750


@dataclass(frozen=True)
class ImageInfo:
    """A validated image: where it was, its real size and its token cost."""

    where: str
    width: int
    height: int

    @property
    def tokens(self) -> int:
        """Tokens the image costs: width * height / 750, rounded up."""
        return math.ceil(self.width * self.height / PIXELS_PER_TOKEN)


def check_image(block: dict[str, Any], where: str) -> ImageInfo:
    """Validate an `image` block's source and return its real dimensions."""
    source = block.get("source")
    if not isinstance(source, dict):
        raise InvalidRequest(f"{where}.source: Field required")
    if source.get("type") != "base64":
        raise InvalidRequest(
            f"{where}.source.type: the stand-in accepts only 'base64' image sources "
            f"(got {source.get('type')!r})"
        )
    media_type = source.get("media_type")
    if media_type not in MEDIA_TYPES_BY_FORMAT.values():
        allowed = ", ".join(repr(m) for m in MEDIA_TYPES_BY_FORMAT.values())
        raise InvalidRequest(
            f"{where}.source.base64.media_type: Input should be {allowed} (got {media_type!r})"
        )
    data = source.get("data")
    if not isinstance(data, str) or not data:
        raise InvalidRequest(f"{where}.source.base64.data: Field required")
    if len(data) > MAX_IMAGE_BYTES:
        raise InvalidRequest(
            f"{where}.source.base64: image exceeds 5 MB maximum: "
            f"{len(data)} bytes > {MAX_IMAGE_BYTES} bytes"
        )
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest(
            f"{where}.source.base64.data: The image data is not valid base64"
        ) from None
    try:
        with Image.open(io.BytesIO(raw)) as image:
            real_format, (width, height) = image.format, image.size
    except (UnidentifiedImageError, OSError):
        raise InvalidRequest(
            f"{where}.source.base64.data: Could not process image (not a JPEG, PNG, GIF or WebP)"
        ) from None
    real_media_type = MEDIA_TYPES_BY_FORMAT.get(real_format or "")
    if real_media_type != media_type:
        raise InvalidRequest(
            f"{where}.source.base64.data: Image does not match the provided media type "
            f"{media_type} (the data is {real_media_type or real_format})"
        )
    if max(width, height) > MAX_IMAGE_SIDE_PX:
        raise InvalidRequest(
            f"{where}.source.base64.data: At least one of the image dimensions exceed max "
            f"allowed size: {MAX_IMAGE_SIDE_PX} pixels (image is {width}x{height})"
        )
    return ImageInfo(where, width, height)


def check_image_count(images: list[ImageInfo]) -> None:
    """Rules that depend on how many images one request carries."""
    if len(images) > MAX_IMAGES_PER_REQUEST:
        raise InvalidRequest(
            f"messages: Too many images in the request: {len(images)} > {MAX_IMAGES_PER_REQUEST}"
        )
    if len(images) > MANY_IMAGES:
        for image in images:
            if max(image.width, image.height) > MANY_IMAGES_MAX_SIDE_PX:
                raise InvalidRequest(
                    f"{image.where}.source.base64.data: At least one of the image dimensions "
                    f"exceed max allowed size for many-image requests: "
                    f"{MANY_IMAGES_MAX_SIDE_PX} pixels (image is {image.width}x{image.height}, "
                    f"request has {len(images)} images)"
                )
