"""Scaling and encoding of frames: the PNG is lossless and standard, the strip-wise and
row-incremental scaling give a whole-frame Pillow resize (to within one level of
rounding: a strip's resampling centres can differ in the last bit), with no stale rows,
and the encoder's cache never returns a stale screen. Random frames make any stale or
misplaced row differ by far more than one level."""

from __future__ import annotations

import io
import random
import time

import pytest
from PIL import Image

from deskpilot.display import png
from deskpilot.display.capture import Frame
from deskpilot.display.encode import EncodeOptions, Encoder
from deskpilot.display.rescale import IncrementalScaler, Scaler
from deskpilot.display.scaling import Scaling
from deskpilot.v1 import common_pb2

PNG = common_pb2.IMAGE_FORMAT_PNG


def noise_frame(width: int, height: int, seed: int) -> Frame:
    raw = random.Random(seed).randbytes(width * height * 4)
    return Frame(raw, width, height, time.monotonic())


def with_rows_changed(frame: Frame, rows: range, seed: int) -> Frame:
    stride = frame.width * 4
    raw = bytearray(frame.raw)
    raw[rows.start * stride : rows.stop * stride] = random.Random(seed).randbytes(
        len(rows) * stride
    )
    return Frame(bytes(raw), frame.width, frame.height, time.monotonic())


def reference_rgb(frame: Frame, size: tuple[int, int], resample: Image.Resampling) -> bytes:
    image = frame.to_image()
    if size != image.size:
        image = image.resize(size, resample)
    return image.tobytes()


def assert_same_pixels(actual: bytes, expected: bytes) -> None:
    assert len(actual) == len(expected)
    worst = max(abs(a - b) for a, b in zip(actual, expected, strict=True))
    assert worst <= 1, f"pixels differ by up to {worst}"


def test_png_round_trips_exactly_and_is_standard() -> None:
    rgb = random.Random(1).randbytes(37 * 23 * 3)
    data = png.encode_rgb(rgb, 37, 23)
    image = Image.open(io.BytesIO(data))
    image.verify()  # chunk CRCs and structure
    image = Image.open(io.BytesIO(data))
    assert (image.format, image.mode, image.size) == ("PNG", "RGB", (37, 23))
    assert image.tobytes() == rgb


@pytest.mark.parametrize("level", [0, 3])
def test_png_levels_are_all_lossless(level: int) -> None:
    rgb = bytes(range(256)) * 36  # 64x48 RGB of a repeating ramp
    decoded = Image.open(io.BytesIO(png.encode_rgb(rgb, 64, 48, level)))
    assert decoded.tobytes() == rgb


def test_png_rejects_a_size_that_does_not_match_the_bytes() -> None:
    with pytest.raises(ValueError, match="not a 10x10 RGB image"):
        png.encode_rgb(b"\x00" * 299, 10, 10)
    with pytest.raises(ValueError, match="level"):
        png.encode_rgb(b"\x00" * 300, 10, 10, level=9)


@pytest.mark.parametrize("workers", [1, 2, 3])
@pytest.mark.parametrize(
    ("source", "target"), [((320, 180), (211, 117)), ((300, 200), (300, 200)), ((97, 61), (40, 9))]
)
def test_scaler_strips_equal_a_whole_frame_resize(
    workers: int, source: tuple[int, int], target: tuple[int, int]
) -> None:
    frame = noise_frame(*source, seed=workers)
    scaler = Scaler(Image.Resampling.BILINEAR, workers)
    try:
        expected = reference_rgb(frame, target, Image.Resampling.BILINEAR)
        assert_same_pixels(scaler.rgb(frame, target), expected)
        # Any band of output rows is the same rows of the whole result.
        stride = target[0] * 3
        assert_same_pixels(scaler.rgb(frame, target, (2, 7)), expected[2 * stride : 7 * stride])
    finally:
        scaler.close()


@pytest.mark.parametrize("resample", [Image.Resampling.BILINEAR, Image.Resampling.LANCZOS])
def test_incremental_scaling_equals_rescaling_everything(resample: Image.Resampling) -> None:
    size = (213, 120)
    incremental = IncrementalScaler(Scaler(resample, workers=2))
    try:
        frame = noise_frame(300, 169, seed=0)
        rgb, changed = incremental.rgb(frame, size)
        assert changed
        assert_same_pixels(rgb, reference_rgb(frame, size, resample))
        assert incremental.rgb(frame, size) == (rgb, False)
        for seed, rows in enumerate([range(0, 1), range(40, 41), range(100, 169), range(7, 90)]):
            frame = with_rows_changed(frame, rows, seed + 1)
            rgb, changed = incremental.rgb(frame, size)
            assert changed
            assert_same_pixels(rgb, reference_rgb(frame, size, resample))
        # A different size starts over.
        rgb, changed = incremental.rgb(frame, (150, 84))
        assert changed
        assert_same_pixels(rgb, reference_rgb(frame, (150, 84), resample))
    finally:
        incremental.close()


def test_scaler_refuses_a_filter_strips_cannot_reproduce() -> None:
    with pytest.raises(ValueError, match="continuous filter"):
        Scaler(Image.Resampling.BOX)


def test_encoder_returns_the_current_screen_never_a_stale_one() -> None:
    encoder = Encoder(EncodeOptions(scale_workers=2))
    scaling = Scaling(320, 180, 160, 90)
    try:
        first = noise_frame(320, 180, seed=5)
        second = with_rows_changed(first, range(60, 62), seed=6)
        one = encoder.screenshot(first, scaling, PNG, 0)
        assert encoder.screenshot(first, scaling, PNG, 0) is one  # unchanged: cached
        two = encoder.screenshot(second, scaling, PNG, 0)
        decoded = Image.open(io.BytesIO(two.data))
        assert_same_pixels(
            decoded.tobytes(), reference_rgb(second, (160, 90), Image.Resampling.BILINEAR)
        )
        # Back to the first screen: its pixels again, not the cached second one.
        again = encoder.screenshot(first, scaling, PNG, 0)
        assert again.data == one.data
        jpeg = encoder.screenshot(first, scaling, common_pb2.IMAGE_FORMAT_JPEG, 0)
        assert Image.open(io.BytesIO(jpeg.data)).format == "JPEG"
    finally:
        encoder.close()
