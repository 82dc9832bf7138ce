"""Raw computer tool calls → typed actions, strictly per tool version (no X needed)."""

from __future__ import annotations

import pytest
from google.protobuf import struct_pb2

from deskpilot.common.errors import InvalidArgument
from deskpilot.display import actions
from deskpilot.v1 import common_pb2, display_pb2

LIMITS = actions.ActionLimits()
TYPES = {
    actions.V20241022: "computer_20241022",
    actions.V20250124: "computer_20250124",
    actions.V20251124: "computer_20251124",
    actions.TOOLSET: "computer_toolset_20260801",
}


def parse(tool_type: str, name: str, **fields: object) -> display_pb2.ComputerAction:
    payload = struct_pb2.Struct()
    payload.update(fields)
    call = common_pb2.ToolCall(name=name, tool_type=tool_type, input=payload)
    version = actions.resolve_version(common_pb2.COMPUTER_TOOL_VERSION_UNSPECIFIED, call)
    action = actions.parse_tool_call(call, version)
    actions.validate_action(action, version, LIMITS)
    return action


def test_each_version_accepts_exactly_its_actions() -> None:
    assert len(actions.VERSION_ACTIONS[actions.V20241022]) == 10
    assert len(actions.VERSION_ACTIONS[actions.V20250124]) == 16
    assert actions.VERSION_ACTIONS[actions.V20251124] == actions.VERSION_ACTIONS[actions.TOOLSET]
    assert len(actions.VERSION_ACTIONS[actions.TOOLSET]) == 17
    for version, names in actions.VERSION_ACTIONS.items():
        if version == actions.UNSPECIFIED:
            continue
        for name in actions.ALL_ACTIONS:
            allowed = name in names
            try:
                actions._check_action_allowed(name, version)
            except InvalidArgument:
                assert not allowed, (TYPES[version], name)
            else:
                assert allowed, (TYPES[version], name)


def test_computer_tool_inputs_become_typed_actions() -> None:
    drag = parse(
        "computer_20250124", "computer", action="left_click_drag",
        start_coordinate=[1.0, 2.0], coordinate=[30, 40],
    )  # fmt: skip
    assert drag.left_click_drag.start_coordinate == common_pb2.Point(x=1, y=2)
    assert drag.left_click_drag.coordinate == common_pb2.Point(x=30, y=40)
    old_drag = parse("computer_20241022", "computer", action="left_click_drag", coordinate=[3, 4])
    assert not old_drag.left_click_drag.HasField("start_coordinate")  # from the pointer
    click = parse("computer_20250124", "computer", action="triple_click", text="shift")
    assert not click.triple_click.HasField("coordinate") and click.triple_click.modifiers == "shift"
    scroll = parse(
        "computer_20250124", "computer", action="scroll",
        scroll_direction="left", scroll_amount=2, coordinate=[5, 6],
    )  # fmt: skip
    assert scroll.scroll.direction == display_pb2.SCROLL_DIRECTION_LEFT
    assert scroll.scroll.amount == 2
    hold = parse("computer_20250124", "computer", action="hold_key", text="a", duration=0.5)
    assert hold.hold_key.duration_seconds == 0.5
    zoom = parse("computer_20251124", "computer", action="zoom", region=[1, 2, 3, 4])
    assert zoom.zoom.region == common_pb2.Rect(x0=1, y0=2, x1=3, y1=4)


def test_toolset_members_take_the_member_input() -> None:
    key = parse("computer_toolset_20260801", "key", text="ctrl+s", repeat=3)
    assert (key.key.text, key.key.repeat) == ("ctrl+s", 3)
    drag = parse(
        "computer_toolset_20260801", "left_click_drag",
        start_coordinate=[0, 0], coordinate=[9, 9], text="alt",
    )  # fmt: skip
    assert drag.left_click_drag.modifiers == "alt"
    assert parse("computer_toolset_20260801", "wait", duration=2).wait.duration_seconds == 2
    # Without a tool_type a member name implies the toolset.
    call = common_pb2.ToolCall(name="screenshot")
    assert actions.resolve_version(0, call) == actions.TOOLSET


@pytest.mark.parametrize(
    ("tool_type", "name", "fields", "message"),
    [
        ("computer_20250124", "computer", {}, "needs an 'action' string"),
        ("computer_20250124", "computer", {"action": "key"}, "key needs 'text'"),
        ("computer_20250124", "computer", {"action": "key", "text": "a", "repeat": 2},
         "does not accept repeat"),
        ("computer_toolset_20260801", "key", {"action": "key", "text": "a"},
         "does not accept action"),
        ("computer_toolset_20260801", "hold_key", {"text": "a", "duration": 0.5},
         "must be an integer"),
        ("computer_20250124", "computer", {"action": "left_click", "coordinate": [True, 1]},
         "must be an integer, got boolean"),
        ("computer_20250124", "computer", {"action": "left_click", "coordinate": "1,2"},
         "must be [x, y]"),
        ("computer_20250124", "computer", {"action": "left_click_drag", "start_coordinate": [0, 0],
         "coordinate": [1, 1], "text": "shift"}, "does not accept text"),
        ("computer_20241022", "computer", {"action": "double_click", "text": "shift"},
         "does not accept text"),
        ("computer_20251124", "computer", {"action": "zoom", "region": [0, 0, 5]},
         "[x0, y0, x1, y1]"),
        ("computer_20250124", "computer", {"action": "type", "text": ""}, "non-empty 'text'"),
        ("computer_20250124", "computer", {"action": "wait", "duration": 61}, "0..60"),
    ],
)  # fmt: skip
def test_strict_parsing_errors(
    tool_type: str, name: str, fields: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidArgument) as error:
        parse(tool_type, name, **fields)
    assert message in error.value.message


def test_typed_actions_follow_the_same_version_rules() -> None:
    click = display_pb2.ComputerAction(
        left_click=display_pb2.ClickAction(coordinate=common_pb2.Point(x=1, y=1))
    )
    actions.validate_action(click, actions.V20250124, LIMITS)
    with pytest.raises(InvalidArgument, match="takes no coordinate under computer_20241022"):
        actions.validate_action(click, actions.V20241022, LIMITS)
    repeat = display_pb2.ComputerAction(key=display_pb2.KeyAction(text="a", repeat=1000))
    with pytest.raises(InvalidArgument, match=r"repeat must be 1\.\.100"):
        actions.validate_action(repeat, actions.TOOLSET, LIMITS)
    with pytest.raises(InvalidArgument, match="no action"):
        actions.validate_action(display_pb2.ComputerAction(), actions.TOOLSET, LIMITS)
