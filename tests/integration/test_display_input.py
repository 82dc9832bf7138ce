"""Pointer actions through the Display service, asserted by a separate X client window that
records the events it receives: clicks of every kind with modifiers, drag, scroll, mouse
down/up, pointer position, and the scaling round trip onto physical pixels."""

from __future__ import annotations

import pytest
from google.protobuf import struct_pb2
from Xlib import X

from deskpilot.v1 import common_pb2, display_pb2
from tests.fixtures.xdisplay import DisplayService, EventRecorder, XEvent, buttons_held

pytestmark = pytest.mark.x11

Pt = common_pb2.Point


def tool_call(tool_type: str, name: str, **fields: object) -> common_pb2.ToolCall:
    payload = struct_pb2.Struct()
    payload.update(fields)
    return common_pb2.ToolCall(name=name, tool_type=tool_type, input=payload)


async def act(service: DisplayService, **kwargs: object) -> display_pb2.ActResponse:
    return await service.stub.Act(display_pb2.ActRequest(**kwargs))


def presses(events: list[XEvent]) -> list[XEvent]:
    return [e for e in events if e.kind == "press"]


def count(kind: str, n: int):
    return lambda events: sum(e.kind == kind for e in events) >= n


@pytest.mark.parametrize(
    ("name", "button", "clicks"),
    [
        ("left_click", 1, 1),
        ("right_click", 3, 1),
        ("middle_click", 2, 1),
        ("double_click", 1, 2),
        ("triple_click", 1, 3),
    ],
)
async def test_click_kinds_land_where_asked(
    display_service: DisplayService,
    event_window: EventRecorder,
    name: str,
    button: int,
    clicks: int,
) -> None:
    call = tool_call("computer_20250124", "computer", action=name, coordinate=[150, 170])
    response = await act(display_service, tool_call=call)
    events = event_window.wait_for(count("release", clicks))
    assert [(e.detail, e.x, e.y) for e in presses(events)] == [(button, 150, 170)] * clicks
    assert (response.action, response.cursor_position) == (name, Pt(x=150, y=170))


async def test_click_holds_modifiers_and_releases_them(
    display_service: DisplayService, event_window: EventRecorder
) -> None:
    call = tool_call(
        "computer_toolset_20260801", "left_click", coordinate=[200, 200], text="ctrl+shift"
    )
    await act(display_service, tool_call=call)
    pressed = presses(event_window.wait_for(count("release", 1)))
    assert len(pressed) == 1
    assert pressed[0].state & X.ShiftMask and pressed[0].state & X.ControlMask
    # A plain click afterwards carries no modifier: they were released.
    event_window.clear()
    await act(display_service, tool_call=tool_call("computer_toolset_20260801", "left_click"))
    plain = presses(event_window.wait_for(count("release", 1)))
    assert plain and plain[0].state & (X.ShiftMask | X.ControlMask) == 0


@pytest.mark.parametrize(
    ("direction", "button"), [("up", 4), ("down", 5), ("left", 6), ("right", 7)]
)
async def test_scroll_sends_wheel_buttons(
    display_service: DisplayService, event_window: EventRecorder, direction: str, button: int
) -> None:
    call = tool_call(
        "computer_20250124",
        "computer",
        action="scroll",
        coordinate=[300, 250],
        scroll_direction=direction,
        scroll_amount=3,
        text="shift" if direction == "up" else None,
    )
    await act(display_service, tool_call=call)
    pressed = presses(event_window.wait_for(count("release", 3)))
    assert [(e.detail, e.x, e.y) for e in pressed] == [(button, 300, 250)] * 3
    assert all(bool(e.state & X.ShiftMask) == (direction == "up") for e in pressed)


async def test_drag_presses_moves_and_releases(
    display_service: DisplayService, event_window: EventRecorder
) -> None:
    call = tool_call(
        "computer_20250124",
        "computer",
        action="left_click_drag",
        start_coordinate=[120, 130],
        coordinate=[380, 330],
    )
    await act(display_service, tool_call=call)
    events = event_window.wait_for(count("release", 1))
    kinds = [e.kind for e in events if e.kind != "motion" or e.state & X.Button1Mask]
    assert kinds[0] == "press" and kinds[-1] == "release" and "motion" in kinds
    assert (events[0].x, events[0].y) != (380, 330)
    press = presses(events)[0]
    release = next(e for e in events if e.kind == "release")
    assert (press.x, press.y, release.x, release.y) == (120, 130, 380, 330)
    assert buttons_held(display_service.display) == 0


async def test_mouse_down_stays_held_across_a_move_until_mouse_up(
    display_service: DisplayService, event_window: EventRecorder
) -> None:
    v = "computer_20250124"
    await act(
        display_service,
        tool_call=tool_call(v, "computer", action="mouse_move", coordinate=[150, 150]),
    )
    await act(display_service, tool_call=tool_call(v, "computer", action="left_mouse_down"))
    await act(
        display_service,
        tool_call=tool_call(v, "computer", action="mouse_move", coordinate=[250, 260]),
    )
    assert buttons_held(display_service.display) == X.Button1Mask
    await act(display_service, tool_call=tool_call(v, "computer", action="left_mouse_up"))
    events = event_window.wait_for(count("release", 1))
    press, release = presses(events)[0], next(e for e in events if e.kind == "release")
    assert (press.x, press.y, release.x, release.y) == (150, 150, 250, 260)
    assert buttons_held(display_service.display) == 0


async def test_cursor_position_reports_in_model_space(display_service: DisplayService) -> None:
    half = display_pb2.ScreenSpace(
        mode=display_pb2.SCALING_MODE_FIXED, target=common_pb2.Size(width=640, height=400)
    )
    move = display_pb2.ComputerAction(
        mouse_move=display_pb2.MouseMoveAction(coordinate=Pt(x=321, y=123))
    )
    await act(display_service, action=move)  # physical: no scaling asked
    call = tool_call("computer_toolset_20260801", "cursor_position")
    response = await act(display_service, tool_call=call, screen_space=half)
    assert response.output == "X=160,Y=61"
    assert response.cursor_position == Pt(x=160, y=61)


async def test_scaled_click_lands_on_the_physical_pixel(
    display_service: DisplayService, event_window: EventRecorder
) -> None:
    # 1280x800 seen as 1024x640 (factor 1.25): model x covers physical [1.25x, 1.25x+1.25).
    space = display_pb2.ScreenSpace(
        mode=display_pb2.SCALING_MODE_FIXED, target=common_pb2.Size(width=1024, height=640)
    )
    targets = [(81, 81), (200, 150), (399, 319)]
    for mx, my in targets:
        click = display_pb2.ClickAction(coordinate=Pt(x=mx, y=my))
        await act(
            display_service, action=display_pb2.ComputerAction(left_click=click), screen_space=space
        )
    pressed = presses(event_window.wait_for(count("release", len(targets))))
    expected = [(int((mx + 0.5) * 1.25), int((my + 0.5) * 1.25)) for mx, my in targets]
    assert [(e.x, e.y) for e in pressed] == expected
    # ...and each physical pixel maps back to the model pixel that was clicked.
    assert [(int((x + 0.5) / 1.25), int((y + 0.5) / 1.25)) for x, y in expected] == targets


async def test_repeated_click_on_the_same_spot_is_not_stalled(
    display_service: DisplayService, event_window: EventRecorder
) -> None:
    """The reference stalled 15 s here (xdotool mousemove --sync to the same spot)."""
    click = display_pb2.ComputerAction(
        left_click=display_pb2.ClickAction(coordinate=Pt(x=222, y=222))
    )
    for _ in range(3):
        await act(display_service, action=click)
    assert len(presses(event_window.wait_for(count("release", 3)))) == 3
