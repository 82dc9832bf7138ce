"""The settle rule on synthetic frames: quiet after the last change, a short wait when
nothing changes, the bound, and background churn learnt once then ignored."""

from __future__ import annotations

import time

import pytest

from deskpilot.common.config import load_settings
from deskpilot.display.capture import Frame
from deskpilot.display.executor import DisplayExecutor
from deskpilot.display.settings import DisplaySettings
from deskpilot.display.settle import (
    BusyRegion,
    SettleTimes,
    changed_box,
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
