"""Mapping between the model's screenshot space and physical pixels. No X dependency.

The model sees screenshots scaled to a size that fits its image limits; it writes
coordinates in that space. A model pixel x covers physical pixels [x*W/w, (x+1)*W/w);
it maps to the physical pixel holding the centre of that span, and a physical pixel maps
back by its own centre, so to_model(to_physical(p)) == p whenever the model space is not
larger than the screen. Bounds are checked in model space.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from deskpilot.common.errors import InvalidArgument
from deskpilot.v1 import common_pb2, display_pb2

# Standard targets (width, height); AUTO picks the one whose aspect matches the screen.
STANDARD_TARGETS: tuple[tuple[int, int], ...] = ((1024, 768), (1280, 800), (1366, 768))
_ASPECT_TOLERANCE = 0.02


@dataclass(frozen=True)
class Scaling:
    """Physical size (W, H) and the size the model sees (w, h)."""

    physical_width: int
    physical_height: int
    width: int
    height: int

    @property
    def is_identity(self) -> bool:
        return (self.width, self.height) == (self.physical_width, self.physical_height)

    def to_physical(self, point: common_pb2.Point, what: str = "coordinate") -> tuple[int, int]:
        """Bounds-check `point` in model space and map it to a physical pixel."""
        self.check_point(point, what)
        x = math.floor((point.x + 0.5) * self.physical_width / self.width)
        y = math.floor((point.y + 0.5) * self.physical_height / self.height)
        return min(x, self.physical_width - 1), min(y, self.physical_height - 1)

    def to_model(self, x: int, y: int) -> common_pb2.Point:
        """Map a physical pixel (by its centre) to model space."""
        mx = math.floor((x + 0.5) * self.width / self.physical_width)
        my = math.floor((y + 0.5) * self.height / self.physical_height)
        return common_pb2.Point(
            x=max(0, min(mx, self.width - 1)), y=max(0, min(my, self.height - 1))
        )

    def check_point(self, point: common_pb2.Point, what: str = "coordinate") -> None:
        if not (0 <= point.x < self.width and 0 <= point.y < self.height):
            raise InvalidArgument(
                f"{what} ({point.x}, {point.y}) is outside the screenshot: x must be "
                f"0..{self.width - 1} and y 0..{self.height - 1} ({self.width}x{self.height})"
            )

    def region_to_physical(self, region: common_pb2.Rect) -> tuple[int, int, int, int]:
        """Bounds-check a model-space region (exclusive right/bottom) and map it out."""
        r = region
        if r.x1 <= r.x0 or r.y1 <= r.y0:
            raise InvalidArgument(
                f"region [{r.x0}, {r.y0}, {r.x1}, {r.y1}] is empty or inverted: "
                "need x0 < x1 and y0 < y1"
            )
        if r.x0 < 0 or r.y0 < 0 or r.x1 > self.width or r.y1 > self.height:
            raise InvalidArgument(
                f"region [{r.x0}, {r.y0}, {r.x1}, {r.y1}] is outside the screenshot "
                f"({self.width}x{self.height}): need 0 <= x0 < x1 <= {self.width} "
                f"and 0 <= y0 < y1 <= {self.height}"
            )
        sx = self.physical_width / self.width
        sy = self.physical_height / self.height
        return (
            math.floor(r.x0 * sx),
            math.floor(r.y0 * sy),
            min(self.physical_width, math.ceil(r.x1 * sx)),
            min(self.physical_height, math.ceil(r.y1 * sy)),
        )


def auto_target(width: int, height: int) -> tuple[int, int]:
    """The standard target matching the screen's aspect; the screen itself if none fits."""
    ratio = width / height
    for target_w, target_h in STANDARD_TARGETS:
        if abs(target_w / target_h - ratio) < _ASPECT_TOLERANCE and target_w <= width:
            return target_w, target_h
    return width, height


def scaling_for(
    space: display_pb2.ScreenSpace | None,
    physical_width: int,
    physical_height: int,
    default_target: tuple[int, int] | None = None,
) -> Scaling:
    """The scaling a request asks for. `default_target` replaces AUTO's choice when set."""
    mode = space.mode if space is not None else display_pb2.SCALING_MODE_UNSPECIFIED
    if mode == display_pb2.SCALING_MODE_NONE:
        return Scaling(physical_width, physical_height, physical_width, physical_height)
    if mode == display_pb2.SCALING_MODE_FIXED:
        assert space is not None
        w, h = space.target.width, space.target.height
        if not (1 <= w <= physical_width and 1 <= h <= physical_height):
            raise InvalidArgument(
                f"screen_space.target {w}x{h} must be between 1x1 and the screen "
                f"{physical_width}x{physical_height}"
            )
        return Scaling(physical_width, physical_height, w, h)
    if mode not in (display_pb2.SCALING_MODE_AUTO, display_pb2.SCALING_MODE_UNSPECIFIED):
        raise InvalidArgument(f"unknown screen_space.mode {mode}")
    w, h = default_target or auto_target(physical_width, physical_height)
    w, h = min(w, physical_width), min(h, physical_height)
    return Scaling(physical_width, physical_height, w, h)


def fit_size(width: int, height: int, box_width: int, box_height: int) -> tuple[int, int]:
    """The largest size with `width:height`'s aspect that fits in the box."""
    scale = min(box_width / width, box_height / height)
    return max(1, round(width * scale)), max(1, round(height * scale))
