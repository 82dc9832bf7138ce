"""A click into an idle terminal settles on the short quiet period: the terminal only
redraws its cursor (a few pixels, or the same pixels again), which is not worth the full
quiet, also while another terminal keeps scrolling beside it. A click that opens a window
still waits the full quiet and returns the window.

The executor here waits a quiet period far longer than the short one, so which rule ended
a wait shows without measuring anything finely (each response also names the rule, through
the `deskpilot_display_settles_total{ended_by}` counter). The short waits are longer than
the defaults too (50 ms after a small change, 40 ms when nothing changes), so a machine
under load that draws the click's window late still shows the rule the test is about."""

from __future__ import annotations

import asyncio
import io
import os
import sys
from collections.abc import AsyncIterator, Iterator

import pytest
from PIL import Image
from prometheus_client import REGISTRY

from deskpilot.common.config import load_settings
from deskpilot.display.executor import DisplayExecutor
from deskpilot.display.service import display_binding
from deskpilot.display.settings import DisplaySettings
from deskpilot.sandbox.xserver import XServer
from deskpilot.v1 import common_pb2, display_pb2, display_pb2_grpc
from tests.fixtures.grpc import running_server
from tests.fixtures.xdisplay import running_xterm

pytestmark = pytest.mark.x11

QUIET_MS = 3000  # the full quiet period: far beyond the short ones
SHORT_QUIET_MS = 400  # after a small change
FIRST_CHANGE_MS = 600  # when nothing changes at all
# 60x15 cells of the default 6x13 font: about x 100..464, y 100..299 of 1280x800.
TERMINAL = "60x15+100+100"
IN_TERMINAL = [common_pb2.Point(x=250, y=200), common_pb2.Point(x=300, y=230)]
ON_DESKTOP = common_pb2.Point(x=700, y=600)
# Beside the idle terminal, on the same rows: x 600..964, y 100..364.
SCROLLING = "60x20+600+100"
# A button at x y w h; a click on it maps a 200x100 window 10 px below it.
BUTTON = (800, 150, 120, 60)
OPENED_AT = (900, 270)  # inside the window the click opens
OPENED_COLOUR = (0x33, 0xCC, 0x66)
PHYSICAL = display_pb2.ScreenSpace(mode=display_pb2.SCALING_MODE_NONE)


@pytest.fixture
async def stub(x_display: XServer) -> AsyncIterator[display_pb2_grpc.DisplayStub]:
    settings = load_settings(
        DisplaySettings, None, display=x_display.display,
        settle_quiet_ms=QUIET_MS, settle_max_ms=2 * QUIET_MS + 2000,
        settle_typing_quiet_ms=SHORT_QUIET_MS, settle_first_change_ms=FIRST_CHANGE_MS,
    )  # fmt: skip
    executor = DisplayExecutor(settings)
    await executor.open()
    try:
        async with running_server([display_binding(executor)]) as (_server, channel):
            yield display_pb2_grpc.DisplayStub(channel)
    finally:
        await executor.close()


@pytest.fixture
def idle_terminal(x_display: XServer) -> Iterator[None]:
    with running_xterm(x_display, TERMINAL, "exec cat > /dev/null"):
        yield


@pytest.fixture
def scrolling_terminal(x_display: XServer) -> Iterator[None]:
    with running_xterm(x_display, SCROLLING, "while :; do date +%T.%N; sleep 0.03; done"):
        yield


@pytest.fixture
async def button(x_display: XServer) -> AsyncIterator[None]:
    """The test app whose button opens a window when clicked (stopped afterwards)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.helpers.click_opens_window", *map(str, BUTTON),
        env={**os.environ, **x_display.env()}, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        assert (await process.stdout.readline()).strip() == b"ready"
        yield
    finally:
        process.kill()
        await process.wait()


def settles_ended_by(rule: str) -> float:
    return REGISTRY.get_sample_value("deskpilot_display_settles_total", {"ended_by": rule}) or 0.0


async def click(
    stub: display_pb2_grpc.DisplayStub,
    at: common_pb2.Point,
    settle: display_pb2.SettlePolicy | None = None,
) -> tuple[display_pb2.ActResponse, str]:
    """Click at `at`; the response and the rule that ended its settle wait."""
    rules = ("no_change", "small_change", "quiet", "limit")
    before = {rule: settles_ended_by(rule) for rule in rules}
    action = display_pb2.ComputerAction(left_click=display_pb2.ClickAction(coordinate=at))
    response = await stub.Act(
        display_pb2.ActRequest(
            action=action, screen_space=PHYSICAL, return_screenshot=True, settle=settle
        )
    )
    [rule] = [rule for rule in rules if settles_ended_by(rule) == before[rule] + 1]
    return response, rule


async def test_a_click_into_an_idle_terminal_settles_on_the_short_quiet(
    stub: display_pb2_grpc.DisplayStub, idle_terminal: None
) -> None:
    await click(stub, ON_DESKTOP)  # the terminal loses the focus: a hollow cursor
    # Entering it, the pointer gives it the focus: it fills its cursor, one cell.
    response, rule = await click(stub, IN_TERMINAL[0])
    assert response.settled
    assert rule == "small_change"
    assert response.timing.settle_ms < QUIET_MS / 2  # ended well before the full quiet
    # Within the terminal the focus stays: the cursor is redrawn with the same pixels,
    # which is no change at all. (Later than xterm's double-click time, 250 ms: a double
    # click would select the lines between the two clicks, a large change.)
    await asyncio.sleep(0.5)
    response, rule = await click(stub, IN_TERMINAL[1])
    assert response.settled
    assert rule == "no_change"
    assert response.timing.settle_ms < QUIET_MS / 2


async def test_a_click_into_an_idle_terminal_beside_a_scrolling_one_settles_on_the_short_quiet(
    stub: display_pb2_grpc.DisplayStub, idle_terminal: None, scrolling_terminal: None
) -> None:
    # The terminal loses the focus (no settling: its cursor is not churn), then a click
    # where nothing else changes learns the churn: the wait hits its bound.
    await stub.Act(
        display_pb2.ActRequest(
            action=display_pb2.ComputerAction(
                left_click=display_pb2.ClickAction(coordinate=ON_DESKTOP)
            ),
            screen_space=PHYSICAL,
            settle=display_pb2.SettlePolicy(disabled=True),
        )
    )
    await asyncio.sleep(0.5)
    response, rule = await click(stub, ON_DESKTOP, display_pb2.SettlePolicy(max_ms=1000))
    assert (response.settled, rule) == (False, "limit")
    # The idle terminal fills its cursor on the rows where the other one scrolls: what is
    # drawn after the input holds both, and only the cursor is the click's change.
    response, rule = await click(stub, IN_TERMINAL[0])
    assert response.settled
    assert rule == "small_change"
    assert response.timing.settle_ms < QUIET_MS / 2


async def test_a_click_that_opens_a_window_waits_the_full_quiet_and_shows_it(
    stub: display_pb2_grpc.DisplayStub, idle_terminal: None, button: None
) -> None:
    await click(stub, IN_TERMINAL[0])  # the last settled frame is known, as in a session
    x, y, width, height = BUTTON
    response, rule = await click(stub, common_pb2.Point(x=x + width // 2, y=y + height // 2))
    assert response.settled
    assert rule == "quiet"
    assert response.timing.settle_ms >= QUIET_MS
    shown = Image.open(io.BytesIO(response.screenshot.data)).convert("RGB")
    assert shown.getpixel(OPENED_AT) == OPENED_COLOUR  # the window, never an earlier frame
