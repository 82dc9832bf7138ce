"""The settle rule on synthetic frames: quiet after the last change (a short one after a
small change), a short wait when nothing changes, the bound, background churn learnt once
then ignored, and the first frame after the input measured against the last settled one."""

from __future__ import annotations

import time

import pytest

from deskpilot.common.config import load_settings
from deskpilot.display.capture import Frame
from deskpilot.display.executor import DisplayExecutor
from deskpilot.display.reference import ScreenReference
from deskpilot.display.settings import DisplaySettings
from deskpilot.display.settle import (
    BusyRegion,
    SettleTimes,
    changed_box,
    changed_boxes,
    changed_outside,
    wait_until_still,
)
from deskpilot.v1 import display_pb2

W, H = 64, 48
TIMES = SettleTimes(quiet=0.05, first_change=0.02, limit=0.5, poll=0.005)
# A quiet period far longer than the first-change wait: which rule ended a wait shows
# without measuring anything finely.
LONG_QUIET = SettleTimes(quiet=5.0, first_change=0.02, limit=10.0, poll=0.005)


def frame(*lit: tuple[int, int]) -> Frame:
    """A black frame with the given pixels white."""
    raw = bytearray(W * H * 4)
    for x, y in lit:
        raw[(y * W + x) * 4 : (y * W + x) * 4 + 4] = b"\xff\xff\xff\x00"
    return Frame(bytes(raw), W, H, time.monotonic())


class Screen:
    """Returns one frame per grab from a function of the grab count."""

    def __init__(self, make) -> None:
        self.make = make
        self.grabs = 0

    async def grab(self) -> Frame:
        self.grabs += 1
        return self.make(self.grabs)


def test_changed_box_finds_the_differing_pixels() -> None:
    assert changed_box(frame(), frame()) is None
    assert changed_box(frame(), frame((3, 4), (10, 20))) == (3, 4, 11, 21)


async def test_unchanged_screen_settles_after_the_first_change_wait() -> None:
    screen = Screen(lambda n: frame())
    result = await wait_until_still(screen.grab, frame(), TIMES)
    assert result.settled
    assert screen.grabs >= 2


async def test_settles_once_changes_stop() -> None:
    # Changes for the first 5 grabs, then still.
    screen = Screen(lambda n: frame((min(n, 5), 1)))
    result = await wait_until_still(screen.grab, frame(), TIMES)
    assert result.settled
    assert result.frame.raw == frame((5, 1)).raw


async def test_churn_hits_the_bound_then_is_ignored_until_it_stops() -> None:
    busy = BusyRegion()
    churn = Screen(lambda n: frame((n % 7, 40)))  # a blinking row at the bottom
    first = await wait_until_still(churn.grab, frame(), TIMES, busy)
    assert not first.settled
    assert busy.box is not None and busy.box[1] == 40
    # Same churn, plus one real change elsewhere that then stays: settles.
    second = await wait_until_still(
        Screen(lambda n: frame((n % 7, 40), (30, 5))).grab, frame(), TIMES, busy
    )
    assert second.settled
    # The churn stops: the region is forgotten.
    await wait_until_still(Screen(lambda n: frame()).grab, frame(), TIMES, busy)
    assert busy.box is None


async def test_intermittent_churn_is_learnt_as_its_own_region_not_the_screen() -> None:
    # A row that changes on every 4th capture only: the last change before the bound can
    # come a few polls early. The busy region must still be just that row, never the
    # whole screen (which would make later waits ignore every change).
    busy = BusyRegion()
    churn = Screen(lambda n: frame((n // 4 % 7, 40)))
    result = await wait_until_still(churn.grab, frame(), TIMES, busy)
    assert not result.settled
    assert busy.box is not None
    assert busy.box[1] == 40 and busy.box[3] == 41, busy.box


def test_changed_outside_ignores_the_busy_box_only() -> None:
    busy = (10, 10, 20, 20)
    base = frame((15, 15))
    assert not changed_outside(base, frame((12, 19)), busy)  # inside: ignored
    assert not changed_outside(base, frame((10, 10), (19, 19)), busy)  # the box's edges
    for outside in [(15, 5), (15, 25), (5, 15), (25, 15), (20, 15), (15, 20), (0, 0), (63, 47)]:
        assert changed_outside(base, frame(outside), busy), outside


@pytest.mark.parametrize(
    ("action", "policy", "quiet"),
    [
        ("type", display_pb2.SettlePolicy(), 0.05),
        ("key", display_pb2.SettlePolicy(), 0.05),
        ("left_click", display_pb2.SettlePolicy(), 0.1),
        ("scroll", display_pb2.SettlePolicy(), 0.1),
        ("type", display_pb2.SettlePolicy(quiet_ms=300), 0.3),  # the request wins
    ],
)
def test_keyboard_actions_settle_with_the_shorter_typing_quiet_period(
    action: str, policy: display_pb2.SettlePolicy, quiet: float
) -> None:
    settings = load_settings(DisplaySettings, [], settle_quiet_ms=100, settle_typing_quiet_ms=50)
    times = DisplayExecutor(settings)._settle_times(policy, action)
    assert times.quiet == quiet
    assert times.first_change <= times.quiet


class Drawing:
    """Drawing reports for the settle loop: `boxes(n)` is what was drawn before poll n."""

    def __init__(self, boxes) -> None:
        self.boxes = boxes
        self.asked = 0

    async def drawn(self):  # type: ignore[no-untyped-def]
        self.asked += 1
        return self.boxes(self.asked)


async def test_with_drawing_reports_a_still_screen_is_captured_once() -> None:
    screen = Screen(lambda n: frame())
    drawing = Drawing(lambda n: None)
    result = await wait_until_still(screen.grab, None, TIMES, drawn=drawing.drawn)
    assert result.settled
    assert screen.grabs == 1  # the first frame after the input stays current
    assert drawing.asked >= 2  # polled until the first-change wait was over


async def test_drawing_right_after_the_input_is_waited_for() -> None:
    # Drawn before the first poll, then nothing: the change is the input's effect, so
    # the wait lasts the quiet period, not just the first-change wait.
    screen = Screen(lambda n: frame((3, 3)))
    drawing = Drawing(lambda n: (3, 3, 4, 4) if n == 1 else None)
    started = time.monotonic()
    result = await wait_until_still(screen.grab, None, TIMES, drawn=drawing.drawn)
    assert result.settled
    assert time.monotonic() - started >= TIMES.quiet
    assert screen.grabs == 1


async def test_reported_drawing_of_identical_pixels_is_not_a_change() -> None:
    # Drawing is reported on later polls but the frames stay equal: a repaint.
    screen = Screen(lambda n: frame((3, 3)))
    drawing = Drawing(lambda n: None if n == 1 else (0, 0, W, H))
    result = await wait_until_still(screen.grab, None, LONG_QUIET, drawn=drawing.drawn)
    assert result.settled
    assert result.seconds < LONG_QUIET.quiet / 2  # ended by the first-change wait
    assert screen.grabs >= 2  # each report made it look


async def test_drawing_inside_the_busy_region_is_churn_not_a_change() -> None:
    busy = BusyRegion((0, 38, W, 42))
    screen = Screen(lambda n: frame((n % 7, 40)))
    drawing = Drawing(lambda n: (0, 40, 7, 41))
    result = await wait_until_still(screen.grab, None, LONG_QUIET, busy, drawn=drawing.drawn)
    assert result.settled
    assert result.seconds < LONG_QUIET.quiet / 2  # ended by the first-change wait
    assert busy.box == (0, 38, W, 42)  # still churning: remembered


# --- small changes settle on the short quiet ------------------------------------------

# The full quiet is long, the short one not: which one ended a wait shows without
# measuring anything finely.
SMALL = SettleTimes(
    quiet=1.0, first_change=0.02, limit=5.0, poll=0.005, small_change_quiet=0.02,
    small_change_px=8,
)  # fmt: skip


def block(x: int, y: int, size: int) -> list[tuple[int, int]]:
    return [(x + i, y + j) for i in range(size) for j in range(size)]


async def test_a_small_change_settles_on_the_short_quiet() -> None:
    # A cursor cell (8x8) drawn once, right after the input, then still.
    screen = Screen(lambda n: frame(*block(10, 10, 8)))
    result = await wait_until_still(screen.grab, frame(), SMALL)
    assert (result.settled, result.ended_by) == (True, "small_change")
    assert result.change == (10, 10, 18, 18)
    assert result.seconds < SMALL.quiet / 2


async def test_a_large_change_waits_the_whole_quiet() -> None:
    screen = Screen(lambda n: frame(*block(10, 10, 9)))  # one pixel too wide and high
    result = await wait_until_still(screen.grab, frame(), SMALL)
    assert (result.settled, result.ended_by) == (True, "quiet")
    assert result.seconds >= SMALL.quiet


async def test_small_changes_that_add_up_to_a_large_one_wait_the_whole_quiet() -> None:
    # Two small changes far apart (a cursor, then a window's corner): together large.
    screen = Screen(lambda n: frame((2, 2)) if n < 3 else frame((2, 2), (40, 30)))
    result = await wait_until_still(screen.grab, frame(), SMALL)
    assert result.ended_by == "quiet"
    assert result.change == (2, 2, 41, 31)


def test_a_request_for_its_own_quiet_gets_it_after_a_small_change_too() -> None:
    settings = load_settings(DisplaySettings, [], settle_quiet_ms=100, settle_small_change_px=32)
    executor = DisplayExecutor(settings)
    assert executor._settle_times(display_pb2.SettlePolicy(), "left_click").small_change_px == 32
    asked = executor._settle_times(display_pb2.SettlePolicy(quiet_ms=300), "left_click")
    assert asked.quiet_after((0, 0, 1, 1)) == 0.3


# --- the first frame after the input, against the last settled frame --------------------


async def test_drawing_the_same_pixels_after_the_input_is_no_change_against_the_reference() -> None:
    # The terminal redraws its cursor as it was: reported drawn, identical pixels.
    reference = ScreenReference()
    reference.replace(frame((3, 3)))
    screen = Screen(lambda n: frame((3, 3)))
    drawing = Drawing(lambda n: (0, 0, 8, 8) if n == 1 else None)
    result = await wait_until_still(
        screen.grab, None, LONG_QUIET, drawn=drawing.drawn, reference=reference
    )
    assert (result.ended_by, result.change) == ("no_change", None)


async def test_a_small_change_after_the_input_is_measured_against_the_reference() -> None:
    reference = ScreenReference()
    reference.replace(frame())
    screen = Screen(lambda n: frame((3, 4), (5, 6)))
    drawing = Drawing(lambda n: (0, 0, 8, 8) if n == 1 else None)
    result = await wait_until_still(
        screen.grab, None, SMALL, drawn=drawing.drawn, reference=reference
    )
    assert result.ended_by == "small_change"
    assert result.change == (0, 4, 8, 7)  # rows exactly, the drawing's columns


async def test_without_a_reference_drawing_after_the_input_waits_the_whole_quiet() -> None:
    # Nothing to compare with: what was drawn is the change, here too wide to be small.
    screen = Screen(lambda n: frame((3, 4)))
    drawing = Drawing(lambda n: (0, 0, W, 8) if n == 1 else None)
    result = await wait_until_still(screen.grab, None, SMALL, drawn=drawing.drawn)
    assert result.ended_by == "quiet"


def test_the_reference_names_the_rows_that_differ_within_the_drawing() -> None:
    reference = ScreenReference()
    assert reference.changed(frame(), (0, 0, 4, 4)) == (0, 0, 4, 4)  # nothing known yet
    reference.replace(frame((1, 1)))
    assert reference.changed(frame((1, 1)), (0, 0, 4, 4)) is None
    assert reference.changed(frame((1, 1), (2, 3)), (0, 0, 4, 4)) == (0, 3, 4, 4)
    assert reference.changed(frame(), (0, 0, W, H)) == (0, 1, W, 2)
    # Rows drawn since the reference (between actions) are out of date: they count as
    # changed, the others are still compared.
    reference.drawn((30, 10, 40, 12))
    assert reference.changed(frame((1, 1)), (0, 0, W, 20)) == (0, 10, W, 12)
    assert reference.changed(frame((1, 1)), (0, 0, W, 5)) is None
    reference.forget()
    assert reference.changed(frame((1, 1)), (0, 0, 4, 4)) == (0, 0, 4, 4)
    # A frame of another size (the screen was resized) is not compared.
    reference.replace(frame())
    other = Frame(bytes(8 * 8 * 4), 8, 8, time.monotonic())
    assert reference.changed(other, (0, 0, 4, 4)) == (0, 0, 4, 4)


def test_changed_boxes_within_an_area_find_the_same_boxes() -> None:
    a, b = frame((15, 15)), frame((12, 19), (30, 30))
    assert changed_boxes(a, b, None, (10, 10, 40, 40)) == changed_boxes(a, b, None)
    assert changed_boxes(a, b, (0, 0, 20, 20), (10, 10, 40, 40)) == (
        (12, 15, 31, 31),
        (30, 30, 31, 31),
    )
    assert changed_boxes(a, b, (0, 0, 20, 20), (0, 0, 20, 20)) == ((12, 15, 16, 20), None)
