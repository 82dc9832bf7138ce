"""Screen rectangles as (x0, y0, x1, y1) tuples, right and bottom edges exclusive."""

from __future__ import annotations

Box = tuple[int, int, int, int]


def union_box(a: Box | None, b: Box) -> Box:
    """The smallest box holding `a` (if any) and `b`."""
    if a is None:
        return b
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def inside(box: Box, region: Box | None) -> bool:
    """Whether `box` lies wholly within `region` (never within None)."""
    return region is not None and (
        region[0] <= box[0] and region[1] <= box[1] and box[2] <= region[2] and box[3] <= region[3]
    )


def fits(box: Box | None, side: int) -> bool:
    """Whether `box` is at most `side` pixels wide and high (None, nothing, fits)."""
    return box is None or (box[2] - box[0] <= side and box[3] - box[1] <= side)
