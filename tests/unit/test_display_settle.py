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
