"""Bad input gets INVALID_ARGUMENT with a precise message and nothing reaches the display;
a key held by an action is released even when the client goes away mid-action."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from google.protobuf import struct_pb2

from deskpilot.v1 import common_pb2, display_pb2
from tests.fixtures.xdisplay import DisplayService, EventRecorder, buttons_held, keys_held

pytestmark = pytest.mark.x11

V2024, V2025, V2025_11, TOOLSET = (
    "computer_20241022",
    "computer_20250124",
    "computer_20251124",
    "computer_toolset_20260801",
)


def call(tool_type: str, name: str, fields: dict[str, object]) -> common_pb2.ToolCall:
    payload = struct_pb2.Struct()
    payload.update(fields)
    return common_pb2.ToolCall(name=name, tool_type=tool_type, input=payload)


HALF = display_pb2.ScreenSpace(
    mode=display_pb2.SCALING_MODE_FIXED, target=common_pb2.Size(width=640, height=400)
)

BAD_CALLS = [
    (V2025, "computer", {"action": "explode"}, "unknown action 'explode'"),
    (V2025, "computer", {"action": "zoom", "region": [0, 0, 10, 10]}, "not available"),
    (V2024, "computer", {"action": "scroll"}, "not available"),
    (TOOLSET, "explode", {}, "unknown computer_toolset_20260801 member"),
    (
        V2025,
        "computer",
        {"action": "left_click_drag", "coordinate": [5, 5]},
        "needs 'start_coordinate'",
    ),
    (
        V2025,
        "computer",
        {"action": "key", "text": "a", "coordinate": [1, 1]},
        "does not accept coordinate",
    ),
    (
        V2024,
        "computer",
        {"action": "left_click", "coordinate": [1, 1]},
        "does not accept coordinate",
    ),
    (V2025, "computer", {"action": "left_click", "coordinate": [10.5, 3]}, "must be an integer"),
    (V2025, "computer", {"action": "left_click", "coordinate": [10]}, "[x, y]"),
    (V2025, "computer", {"action": "type", "text": 5}, "must be a string"),
    (V2025, "computer", {"action": "key", "text": "shift; touch F"}, "unknown key name 'shift;'"),
    (
        V2025,
        "computer",
        {"action": "key", "text": "ctrl+nosuchkey"},
        "unknown key name 'nosuchkey'",
    ),
    (V2025, "computer", {"action": "wait", "duration": -1}, "duration must be 0..60"),
    (V2025, "computer", {"action": "hold_key", "text": "a", "duration": 1e9}, "duration must be"),
    (TOOLSET, "wait", {"duration": 1.5}, "must be an integer"),
    (
        V2025,
        "computer",
        {"action": "scroll", "scroll_direction": "up", "scroll_amount": 10**6},
        "scroll amount must be 1..100",
    ),
    (
        V2025,
        "computer",
        {"action": "scroll", "scroll_direction": "sideways", "scroll_amount": 1},
        "must be one of up, down",
    ),
    (V2025, "computer", {"action": "type", "text": "x" * 20_001}, "the limit is 20000"),
    (V2025_11, "computer", {"action": "zoom", "region": [100, 100, 50, 50]}, "inverted"),
    (
        V2025_11,
        "computer",
        {"action": "zoom", "region": [0, 0, 2000, 100]},
        "outside the screenshot",
    ),
    (
        V2025,
        "computer",
        {"action": "mouse_move", "coordinate": [1280, 5]},
        "x must be 0..1279 and y 0..799",
    ),
    (V2025, "computer", {"action": "mouse_move", "coordinate": [-1, 5]}, "outside the screenshot"),
    (V2025, "bash", {"command": "ls"}, "not the computer tool"),
    ("computer_19990101", "computer", {"action": "screenshot"}, "unknown tool_type"),
    # Found by an independent check: "+a" pressed only "+", NUL was typed, NaN crashed.
    (V2025, "computer", {"action": "key", "text": "+a"}, "expected '+' after '+'"),
    (V2025, "computer", {"action": "key", "text": "\x00"}, "U+0000 is a control character"),
    (V2025, "computer", {"action": "type", "text": "ok\x00"}, "U+0000 is a control character"),
    (
        V2025,
        "computer",
        {"action": "left_click", "coordinate": [float("nan"), 3]},
        "`coordinate[0]` is nan: a tool input's numbers must be finite",
    ),
    (
        V2025,
        "computer",
        {"action": "scroll", "scroll_direction": "up", "scroll_amount": float("inf")},
        "`scroll_amount` is inf",
    ),
]


@pytest.mark.parametrize(("tool_type", "name", "fields", "message"), BAD_CALLS)
async def test_bad_tool_calls_are_invalid_argument_and_touch_nothing(
    display_service: DisplayService,
    event_window: EventRecorder,
    tool_type: str,
    name: str,
    fields: dict[str, object],
    message: str,
) -> None:
    # Start with the pointer inside the recording window, so any stray input would show.
    move = display_pb2.MouseMoveAction(coordinate=common_pb2.Point(x=300, y=200))
    await display_service.stub.Act(
        display_pb2.ActRequest(action=display_pb2.ComputerAction(mouse_move=move))
    )
    event_window.clear()
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await display_service.stub.Act(
            display_pb2.ActRequest(tool_call=call(tool_type, name, fields))
        )
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in error.value.details()
    # A round trip through the service, then nothing recorded and nothing held.
    await display_service.stub.GetInfo(display_pb2.GetInfoRequest())
    assert event_window.events("press", "release", "key_press", "key_release") == []
    assert keys_held(display_service.display) == []


async def test_bounds_are_checked_in_the_model_space(display_service: DisplayService) -> None:
    move = display_pb2.MouseMoveAction(coordinate=common_pb2.Point(x=700, y=10))
    request = display_pb2.ActRequest(
        action=display_pb2.ComputerAction(mouse_move=move), screen_space=HALF
    )
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await display_service.stub.Act(request)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "x must be 0..639 and y 0..399" in error.value.details()


async def test_request_level_mistakes(display_service: DisplayService) -> None:
    screenshot = display_pb2.ComputerAction(screenshot=display_pb2.ScreenshotAction())
    cases = [
        (display_pb2.ActRequest(), "needs either 'action' or 'tool_call'"),
        (
            display_pb2.ActRequest(
                tool_call=call(V2025, "computer", {"action": "screenshot"}),
                version=common_pb2.COMPUTER_TOOL_VERSION_20241022,
            ),
            "contradicts version",
        ),
        (
            display_pb2.ActRequest(
                action=screenshot,
                screen_space=display_pb2.ScreenSpace(
                    mode=display_pb2.SCALING_MODE_FIXED,
                    target=common_pb2.Size(width=4000, height=10),
                ),
            ),
            "must be between 1x1 and the screen",
        ),
        (
            display_pb2.ActRequest(action=screenshot, settle=display_pb2.SettlePolicy(max_ms=-5)),
            "settle.max_ms",
        ),
    ]
    for request, message in cases:
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await display_service.stub.Act(request)
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert message in error.value.details()


async def test_client_gone_mid_hold_key_releases_the_key(display_service: DisplayService) -> None:
    hold = display_pb2.HoldKeyAction(text="ctrl+shift", duration_seconds=30)
    request = display_pb2.ActRequest(action=display_pb2.ComputerAction(hold_key=hold))
    call_task = display_service.stub.Act(request, timeout=0.5)
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await call_task
    assert error.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    # The server notices the cancellation and releases; wait for it (bounded).
    for _ in range(200):
        if keys_held(display_service.display) == []:
            break
        await asyncio.sleep(0.02)
    assert keys_held(display_service.display) == []


async def test_client_gone_mid_type_leaves_no_key_down(
    display_service: DisplayService,
) -> None:
    """A long type cancelled mid-way leaves no key down."""
    text = display_pb2.TypeAction(text="ab" * 5000)
    request = display_pb2.ActRequest(action=display_pb2.ComputerAction(type=text))
    with pytest.raises(grpc.aio.AioRpcError):
        await display_service.stub.Act(request, timeout=0.05)
    for _ in range(200):
        if keys_held(display_service.display) == []:
            break
        await asyncio.sleep(0.02)
    assert keys_held(display_service.display) == []
    assert buttons_held(display_service.display) == 0
