"""Scaling between the model's screenshot space and physical pixels."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deskpilot.common.errors import InvalidArgument
from deskpilot.display.scaling import Scaling, auto_target, fit_size, scaling_for
from deskpilot.v1 import common_pb2, display_pb2


@pytest.mark.parametrize(
    ("screen", "target"),
    [
        ((1920, 1080), (1366, 768)),
        ((2560, 1600), (1280, 800)),
        ((1280, 800), (1280, 800)),
        ((1600, 1200), (1024, 768)),
        ((1024, 768), (1024, 768)),
        ((800, 600), (800, 600)),  # smaller than the target: not scaled
        ((2000, 500), (2000, 500)),  # no standard aspect: not scaled
    ],
)
def test_auto_picks_the_target_matching_the_aspect(
    screen: tuple[int, int], target: tuple[int, int]
) -> None:
    assert auto_target(*screen) == target


@given(
    physical=st.tuples(st.integers(200, 4000), st.integers(200, 3000)),
    fraction=st.tuples(st.floats(0.1, 1.0), st.floats(0.1, 1.0)),
    point=st.tuples(st.floats(0, 1, exclude_max=True), st.floats(0, 1, exclude_max=True)),
)
def test_model_pixel_round_trips_through_physical(
    physical: tuple[int, int], fraction: tuple[float, float], point: tuple[float, float]
) -> None:
    width, height = max(1, int(physical[0] * fraction[0])), max(1, int(physical[1] * fraction[1]))
    scaling = Scaling(physical[0], physical[1], width, height)
    model = common_pb2.Point(x=int(point[0] * width), y=int(point[1] * height))
    px, py = scaling.to_physical(model)
    assert 0 <= px < physical[0] and 0 <= py < physical[1]
    assert scaling.to_model(px, py) == model


def test_coordinates_outside_the_screenshot_name_the_bounds() -> None:
    scaling = Scaling(1920, 1080, 1366, 768)
    with pytest.raises(InvalidArgument, match=r"x must be 0\.\.1365 and y 0\.\.767"):
        scaling.to_physical(common_pb2.Point(x=1366, y=0))
    unscaled = Scaling(1280, 800, 1280, 800)  # the reference skipped this check
    with pytest.raises(InvalidArgument, match="outside the screenshot"):
        unscaled.to_physical(common_pb2.Point(x=5, y=800))


def test_region_maps_to_the_covering_physical_box() -> None:
    scaling = Scaling(1920, 1080, 1366, 768)
    full = common_pb2.Rect(x0=0, y0=0, x1=1366, y1=768)
    assert scaling.region_to_physical(full) == (0, 0, 1920, 1080)
    half = Scaling(1280, 800, 640, 400)
    assert half.region_to_physical(common_pb2.Rect(x0=25, y0=60, x1=75, y1=110)) == (
        50, 120, 150, 220,
    )  # fmt: skip
    with pytest.raises(InvalidArgument, match="inverted"):
        half.region_to_physical(common_pb2.Rect(x0=10, y0=10, x1=10, y1=20))
    with pytest.raises(InvalidArgument, match="outside"):
        half.region_to_physical(common_pb2.Rect(x0=0, y0=0, x1=641, y1=20))


def test_screen_space_modes() -> None:
    none = display_pb2.ScreenSpace(mode=display_pb2.SCALING_MODE_NONE)
    assert scaling_for(none, 1920, 1080).is_identity
    assert (scaling_for(None, 1920, 1080).width, scaling_for(None, 1920, 1080).height) == (
        1366, 768,
    )  # fmt: skip
    assert scaling_for(None, 1920, 1080, default_target=(960, 540)).width == 960
    fixed = display_pb2.ScreenSpace(
        mode=display_pb2.SCALING_MODE_FIXED, target=common_pb2.Size(width=0, height=10)
    )
    with pytest.raises(InvalidArgument, match="target 0x10"):
        scaling_for(fixed, 1920, 1080)


def test_fit_size_keeps_the_aspect() -> None:
    assert fit_size(100, 100, 640, 400) == (400, 400)
    assert fit_size(400, 100, 1280, 800) == (1280, 320)
