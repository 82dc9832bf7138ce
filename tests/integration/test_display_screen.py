"""Screenshots, zoom, GetInfo, settling, idempotency and metrics of the Display service,
checked against a window of known colour at a known place."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator

import pytest
from PIL import Image
from prometheus_client import REGISTRY
from Xlib import X

from deskpilot.display.damage import DamageWatch
from deskpilot.display.xconnection import open_display
from deskpilot.sandbox.xserver import XServer
from deskpilot.v1 import common_pb2, display_pb2
from tests.fixtures.xdisplay import DisplayService, EventRecorder

pytestmark = pytest.mark.x11

RED = (255, 0, 0)
HALF = display_pb2.ScreenSpace(
    mode=display_pb2.SCALING_MODE_FIXED, target=common_pb2.Size(width=640, height=400)
)
Pt = common_pb2.Point


def decode(image: common_pb2.Image) -> Image.Image:
    decoded = Image.open(io.BytesIO(image.data))
    assert decoded.size == (image.width, image.height)
    return decoded.convert("RGB")


def is_red(pixel: tuple[int, int, int]) -> bool:
    return pixel[0] > 200 and pixel[1] < 60 and pixel[2] < 60


async def test_get_info_reports_sizes_and_versions(display_service: DisplayService) -> None:
    info = await display_service.stub.GetInfo(display_pb2.GetInfoRequest(screen_space=HALF))
    assert info.display == display_service.display
    assert (info.physical_size.width, info.physical_size.height) == (1280, 800)
    assert (info.scaled_size.width, info.scaled_size.height) == (640, 400)
    assert len(info.supported_versions) == 4
    auto = await display_service.stub.GetInfo(display_pb2.GetInfoRequest())
    assert (auto.scaled_size.width, auto.scaled_size.height) == (1280, 800)  # 16:10 target


@pytest.mark.parametrize(
    "fmt", [common_pb2.IMAGE_FORMAT_PNG, common_pb2.IMAGE_FORMAT_JPEG, common_pb2.IMAGE_FORMAT_WEBP]
)
async def test_screenshot_is_scaled_and_shows_the_window(
    display_service: DisplayService, event_window: EventRecorder, fmt: int
) -> None:
    response = await display_service.stub.Screenshot(
        display_pb2.ScreenshotRequest(
            screen_space=HALF, options=display_pb2.ScreenshotOptions(format=fmt, quality=90)
        )
    )
    assert response.image.format == fmt
    image = decode(response.image)
    assert image.size == (640, 400)
    # The window covers physical (100..500, 100..400): model (50..250, 50..200).
    assert is_red(image.getpixel((150, 125)))
    assert not is_red(image.getpixel((20, 20)))
    assert not is_red(image.getpixel((300, 300)))


async def test_zoom_crops_the_physical_region_mapped_from_model_space(
    display_service: DisplayService, event_window: EventRecorder
) -> None:
    # Model region x 25..75 (half scale) is physical x 50..150: the window starts at 100,
    # so the left half of the zoom is desktop and the right half red. Cropping the scaled
    # image with these numbers (the reference's bug) would give all red.
    zoom = display_pb2.ZoomAction(region=common_pb2.Rect(x0=25, y0=60, x1=75, y1=110))
    response = await display_service.stub.Act(
        display_pb2.ActRequest(action=display_pb2.ComputerAction(zoom=zoom), screen_space=HALF)
    )
    image = decode(response.screenshot)
    assert image.size == (400, 400)  # a square region scaled up to fit 640x400
    assert not is_red(image.getpixel((100, 200)))
    assert is_red(image.getpixel((300, 200)))


async def test_screenshot_action_and_return_screenshot(
    display_service: DisplayService, event_window: EventRecorder
) -> None:
    shot = display_pb2.ComputerAction(screenshot=display_pb2.ScreenshotAction())
    response = await display_service.stub.Act(display_pb2.ActRequest(action=shot))
    assert decode(response.screenshot).size == (1280, 800)
    move = display_pb2.MouseMoveAction(coordinate=Pt(x=5, y=5))
    quiet = await display_service.stub.Act(
        display_pb2.ActRequest(action=display_pb2.ComputerAction(mouse_move=move))
    )
    assert not quiet.HasField("screenshot")
    assert quiet.settled


class Flicker:
    """A window that changes colour continuously, so the screen never settles."""

    def __init__(self, display: str) -> None:
        self.conn = open_display(display)
        screen = self.conn.screen()
        self.window = screen.root.create_window(
            700, 100, 200, 200, 0, screen.root_depth, X.InputOutput, X.CopyFromParent,
            background_pixel=0x0000FF, override_redirect=True,
        )  # fmt: skip
        self.window.map()
        self.conn.sync()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        colour = 0
        while not self.stop.wait(0.01):
            colour = (colour + 0x111111) & 0xFFFFFF
            self.window.change_attributes(background_pixel=colour)
            self.window.clear_area()
            self.conn.sync()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.window.destroy()
        self.conn.close()


@pytest.fixture
def flicker(x_display: XServer) -> Iterator[Flicker]:
    window = Flicker(x_display.display)
    try:
        yield window
    finally:
        window.close()


async def test_settle_reports_churn_once_then_ignores_it(
    display_service: DisplayService, flicker: Flicker
) -> None:
    move = display_pb2.MouseMoveAction(coordinate=Pt(x=10, y=10))
    response = await display_service.stub.Act(
        display_pb2.ActRequest(
            action=display_pb2.ComputerAction(mouse_move=move),
            settle=display_pb2.SettlePolicy(quiet_ms=200, max_ms=400),
            return_screenshot=True,
        )
    )
    assert not response.settled
    assert response.HasField("screenshot")
    # The churning region is learnt: the next action elsewhere settles despite it.
    again = await display_service.stub.Act(
        display_pb2.ActRequest(
            action=display_pb2.ComputerAction(mouse_move=move),
            settle=display_pb2.SettlePolicy(quiet_ms=200, max_ms=5000),
        )
    )
    assert again.settled


async def test_repeated_idempotency_key_replays_without_acting(
    display_service: DisplayService, event_window: EventRecorder
) -> None:
    def click(x: int, key: str = "") -> display_pb2.ActRequest:
        action = display_pb2.ComputerAction(
            left_click=display_pb2.ClickAction(coordinate=Pt(x=x, y=200))
        )
        return display_pb2.ActRequest(action=action, idempotency_key=key)

    first = await display_service.stub.Act(click(150, "step-1"))
    again = await display_service.stub.Act(click(150, "step-1"))
    await display_service.stub.Act(click(160))  # a distinct marker click
    events = event_window.wait_for(lambda ev: sum(e.kind == "release" for e in ev) >= 2)
    assert [e.x for e in events if e.kind == "press"] == [150, 160]
    assert (first.replayed, again.replayed) == (False, True)
    assert again.cursor_position == first.cursor_position


async def test_metrics_count_actions_and_captures(
    display_service: DisplayService, event_window: EventRecorder
) -> None:
    def sample(name: str, labels: dict[str, str] | None = None) -> float:
        return REGISTRY.get_sample_value(name, labels or {}) or 0.0

    before_actions = sample("deskpilot_display_action_seconds_count", {"action": "left_click"})
    before_captures = sample("deskpilot_display_captures_total")
    click = display_pb2.ComputerAction(left_click=display_pb2.ClickAction(coordinate=Pt(x=9, y=9)))
    await display_service.stub.Act(display_pb2.ActRequest(action=click, return_screenshot=True))
    after = sample("deskpilot_display_action_seconds_count", {"action": "left_click"})
    assert after == before_actions + 1
    assert sample("deskpilot_display_captures_total") > before_captures


def test_drawing_reports_cover_drawing_redrawing_mapping_and_what_a_closed_window_uncovers(
    x_display: XServer,
) -> None:
    watch = DamageWatch(x_display.display)
    client = open_display(x_display.display)
    try:
        screen = client.screen()
        window = screen.root.create_window(
            300, 200, 120, 80, 0, screen.root_depth, X.InputOutput, X.CopyFromParent,
            background_pixel=0x00FF00, override_redirect=True,
        )  # fmt: skip
        client.sync()
        watch.start()
        window.map()
        client.sync()
        assert _covers(watch.drawn(), (300, 200, 420, 280))  # its background painted
        gc = window.create_gc(foreground=0xFF0000)
        window.fill_rectangle(gc, 10, 10, 20, 20)
        client.sync()
        assert _covers(watch.drawn(), (310, 210, 330, 230))
        # Drawing again inside a box already reported grows no bounding box: it is still
        # reported, because each read empties the server's region.
        for _ in range(3):
            window.fill_rectangle(gc, 12, 12, 4, 4)
            client.sync()
            assert _covers(watch.drawn(), (312, 212, 316, 216))
        window.unmap()  # the desktop behind it is repainted by the server alone
        client.sync()
        assert _covers(watch.drawn(), (300, 200, 420, 280))
        assert watch.drawn() is None  # each report once
        watch.stop()  # once stopped, nothing is reported
        window.map()
        client.sync()
        watch.start()  # drawing before the start is not the action's
        assert watch.drawn() is None
        watch.stop()
        with pytest.raises(RuntimeError, match="before start"):
            watch.drawn()
        window.destroy()
        client.sync()
    finally:
        client.close()
        watch.close()


def _covers(box: tuple[int, int, int, int] | None, want: tuple[int, int, int, int]) -> bool:
    return box is not None and box[0] <= want[0] and box[1] <= want[1] and \
        box[2] >= want[2] and box[3] >= want[3]  # fmt: skip


async def test_the_executor_uses_drawing_reports_on_xvfb(display_service: DisplayService) -> None:
    # Without them every action captures a frame before its input and at every poll.
    assert display_service.executor.damage is not None
