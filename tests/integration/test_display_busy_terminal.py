"""A terminal printing as fast as it can: actions still settle within their bound and
screenshots still answer, because reading the X server's drawing reports is bounded
whatever the drawing rate (see damage.py)."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Iterator

import pytest
from PIL import Image

from deskpilot.display.boxes import inside
from deskpilot.display.damage import DamageWatch
from deskpilot.sandbox.xserver import XServer
from deskpilot.v1 import common_pb2, display_pb2
from tests.fixtures.xdisplay import DisplayService, running_xterm

pytestmark = pytest.mark.x11

# Every drawing operation of xterm is one raw DAMAGE report; this loop makes far more
# than python-xlib can parse (the benchmark's `date; sleep 0.03` loop makes few).
FULL_SPEED = "while :; do ls -lR /usr; done"
# 100x30 cells of the default 6x13 font: about x 600..1206, y 300..694 of 1280x800.
GEOMETRY = "100x30+600+300"
GEOMETRY_BOX = (620, 320, 1180, 680)  # well inside its text area
INSIDE = common_pb2.Point(x=900, y=500)
OUTSIDE = common_pb2.Point(x=200, y=150)
# A hang shows as a deadline, far beyond any settle bound used here.
RPC_DEADLINE = 30.0
SETTLE = display_pb2.SettlePolicy(max_ms=1000)
# The first click must meet the churn, not a pause in it: on a loaded machine xterm is
# sometimes not scheduled for a while (pauses up to 270 ms were seen with both cores busy),
# longer than the 100 ms default quiet, and a screen that really stayed still that long is
# settled. No pause lasts a quiet of 600 ms, so that wait ends at its bound.
LEARN_CHURN = display_pb2.SettlePolicy(max_ms=1500, quiet_ms=600)


@pytest.fixture
def fast_terminal(x_display: XServer) -> Iterator[None]:
    with running_xterm(x_display, GEOMETRY, FULL_SPEED):
        yield


def click(
    at: common_pb2.Point, settle: display_pb2.SettlePolicy = SETTLE
) -> display_pb2.ActRequest:
    action = display_pb2.ComputerAction(left_click=display_pb2.ClickAction(coordinate=at))
    return display_pb2.ActRequest(action=action, settle=settle, return_screenshot=True)


def key(text: str) -> display_pb2.ActRequest:
    action = display_pb2.ComputerAction(key=display_pb2.KeyAction(text=text))
    return display_pb2.ActRequest(action=action, settle=SETTLE, return_screenshot=True)


def size_of(image: common_pb2.Image) -> tuple[int, int]:
    return Image.open(io.BytesIO(image.data)).size


async def screenshot_while(service: DisplayService, act: asyncio.Task) -> bytes:
    """A Screenshot issued while `act` is still settling."""
    await asyncio.sleep(0.2)
    assert not act.done()  # still settling: the terminal churns and is not known yet
    reply = await service.stub.Screenshot(display_pb2.ScreenshotRequest(), timeout=RPC_DEADLINE)
    return reply.image.data


@pytest.mark.timeout(150)
async def test_actions_settle_and_screenshots_answer_while_a_terminal_prints_at_full_speed(
    display_service: DisplayService, fast_terminal: None
) -> None:
    stub = display_service.stub
    # First click into the terminal: it churns everywhere and was never seen still, so the
    # wait ends at its bound, not settled; a screenshot asked meanwhile is answered.
    first = asyncio.ensure_future(stub.Act(click(INSIDE, LEARN_CHURN), timeout=RPC_DEADLINE))
    shot = await screenshot_while(display_service, first)
    response = await first
    assert Image.open(io.BytesIO(shot)).size == (1280, 800)
    assert not response.settled
    assert size_of(response.screenshot) == (1280, 800)
    # The churn is now known: a key press echoed into it and a click elsewhere settle.
    typed = await stub.Act(key("a"), timeout=RPC_DEADLINE)
    assert typed.settled
    assert size_of(typed.screenshot) == (1280, 800)
    elsewhere = await stub.Act(click(OUTSIDE), timeout=RPC_DEADLINE)
    assert elsewhere.settled
    assert elsewhere.cursor_position == OUTSIDE
    # Between actions nothing piles up: a screenshot after a pause still answers.
    await asyncio.sleep(1.0)
    later = await stub.Screenshot(display_pb2.ScreenshotRequest(), timeout=RPC_DEADLINE)
    assert size_of(later.image) == (1280, 800)


def test_drawing_reports_left_unread_between_actions_stay_few(
    x_display: XServer, fast_terminal: None
) -> None:
    # The executor keeps reports running between actions, unread: one is sent only when
    # the box of the drawing since the last read grows, however fast the terminal draws.
    watch = DamageWatch(x_display.display)
    try:
        watch.start()
        time.sleep(1.0)
        watch._display.sync()  # every report sent so far has arrived
        assert watch._display.pending_events() < 64
        assert inside(GEOMETRY_BOX, watch.drawn())  # and still covers all the drawing
    finally:
        watch.close()
