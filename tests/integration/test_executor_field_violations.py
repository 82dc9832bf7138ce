"""The executors' bad requests name the bad field in the status details too (a
google.rpc.BadRequest field violation), as the orchestrator's do: a real Shell service and
a real Display service on Xvfb, each on a gRPC server on loopback."""

from __future__ import annotations

import math
from collections.abc import Awaitable

import grpc
import pytest
from google.protobuf import struct_pb2

from deskpilot.common.errors import field_violations
from deskpilot.v1 import common_pb2, display_pb2, shell_pb2
from tests.fixtures.shell import ShellHandle
from tests.fixtures.xdisplay import DisplayService


def _call(name: str, tool_type: str, **fields: object) -> common_pb2.ToolCall:
    arguments = struct_pb2.Struct()
    arguments.update(fields)
    return common_pb2.ToolCall(name=name, tool_type=tool_type, input=arguments)


async def _fields_named(call: Awaitable[object]) -> list[str]:
    """The fields an INVALID_ARGUMENT answer names in its details, each described."""
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, info.value.details()
    violations = field_violations(info.value)
    assert all(v.description for v in violations)
    return [v.field for v in violations]


def _bash(**fields: object) -> common_pb2.ToolCall:
    return _call("bash", "bash_20250124", **fields)


def _edit(**fields: object) -> common_pb2.ToolCall:
    return _call("str_replace_based_edit_tool", "text_editor_20250728", **fields)


LS = shell_pb2.BashCommand(command="ls")


@pytest.mark.parametrize(
    ("bad", "fields"),
    [
        (shell_pb2.BashRequest(tool_call=_bash(command=5)), ["tool_call.input.command"]),
        (shell_pb2.BashRequest(tool_call=_bash(restart="yes")), ["tool_call.input.restart"]),
        (shell_pb2.BashRequest(tool_call=_bash()), ["tool_call.input.command"]),
        (shell_pb2.BashRequest(tool_call=_bash(command="  ")), ["tool_call.input.command"]),
        (
            shell_pb2.BashRequest(tool_call=_bash(command="ls", x={"y": [1, math.inf]})),
            ["tool_call.input.x.y[1]"],
        ),
        (
            shell_pb2.BashRequest(tool_call=_bash(command="ls", cwd="/", env={})),
            ["tool_call.input.cwd", "tool_call.input.env"],
        ),
        (
            shell_pb2.BashRequest(tool_call=_call("sh", "bash_20250124", command="ls")),
            ["tool_call.name"],
        ),
        (
            shell_pb2.BashRequest(tool_call=_call("bash", "bash_2019", command="ls")),
            ["tool_call.tool_type"],
        ),
        (
            shell_pb2.BashRequest(
                tool_call=_call("bash", "bash_20241022", command="ls"),
                version=common_pb2.BASH_TOOL_VERSION_20250124,
            ),
            ["tool_call.tool_type", "version"],
        ),
        (shell_pb2.BashRequest(command=shell_pb2.BashCommand(command="a\0b")), ["command.command"]),
        (shell_pb2.BashRequest(command=LS, version=99), ["version"]),
        (shell_pb2.BashRequest(command=LS, timeout_seconds=-1), ["timeout_seconds"]),
        (shell_pb2.BashRequest(command=LS, max_output_bytes=-5), ["max_output_bytes"]),
        (shell_pb2.BashRequest(command=LS, idempotency_key="k" * 257), ["idempotency_key"]),
    ],
)
async def test_bad_bash_requests_name_their_fields(
    shell: ShellHandle, bad: shell_pb2.BashRequest, fields: list[str]
) -> None:
    assert await _fields_named(shell.stub.Bash(bad)) == fields


@pytest.mark.parametrize(
    ("call", "fields"),
    [
        (_edit(command="view", path="/x", view_range=[1, 2.5]), ["tool_call.input.view_range[1]"]),
        (_edit(command="view", path="/x", view_range=[1]), ["tool_call.input.view_range"]),
        (_edit(command="explode", path="/x"), ["tool_call.input.command"]),
        (_edit(path="/x"), ["tool_call.input.command"]),
        (_edit(command="str_replace"), ["tool_call.input.old_str", "tool_call.input.path"]),
        (
            _edit(command="insert", path="/x", insert_line=1.5, insert_text="a"),
            ["tool_call.input.insert_line"],
        ),
        (_edit(command="view", path=3), ["tool_call.input.path"]),
    ],
)
async def test_bad_edit_calls_name_their_fields(
    shell: ShellHandle, call: common_pb2.ToolCall, fields: list[str]
) -> None:
    assert await _fields_named(shell.stub.Edit(shell_pb2.EditRequest(tool_call=call))) == fields


V20250728 = common_pb2.EDITOR_TOOL_VERSION_20250728


@pytest.mark.parametrize(
    ("bad", "fields"),
    [
        (shell_pb2.EditRequest(command=shell_pb2.EditCommand()), ["command"]),
        (
            shell_pb2.EditRequest(
                command=shell_pb2.EditCommand(undo_edit=shell_pb2.UndoEditCommand(path="/x")),
                version=V20250728,
            ),
            ["command"],
        ),
        (
            shell_pb2.EditRequest(command=shell_pb2.EditCommand(view=shell_pb2.ViewCommand())),
            ["command.view.path"],
        ),
        (
            shell_pb2.EditRequest(
                command=shell_pb2.EditCommand(view=shell_pb2.ViewCommand(path="/x")), version=42
            ),
            ["version"],
        ),
    ],
)
async def test_bad_typed_edit_requests_name_their_fields(
    shell: ShellHandle, bad: shell_pb2.EditRequest, fields: list[str]
) -> None:
    assert await _fields_named(shell.stub.Edit(bad)) == fields


async def test_a_typed_create_without_text_names_the_field(shell: ShellHandle) -> None:
    create = shell_pb2.CreateCommand(path=str(shell.home / "new.txt"))
    assert await _fields_named(
        shell.stub.Edit(shell_pb2.EditRequest(command=shell_pb2.EditCommand(create=create)))
    ) == ["command.create.file_text"]
    assert not (shell.home / "new.txt").exists()


def _computer(**fields: object) -> display_pb2.ActRequest:
    return display_pb2.ActRequest(tool_call=_call("computer", "computer_20250124", **fields))


@pytest.mark.x11
@pytest.mark.parametrize(
    ("bad", "fields"),
    [
        (_computer(action="left_click", coordinate=[10.5, 3]), ["tool_call.input.coordinate[0]"]),
        (_computer(action="left_click", coordinate=[10]), ["tool_call.input.coordinate"]),
        (
            _computer(action="left_click", coordinate=[1, math.nan]),
            ["tool_call.input.coordinate[1]"],
        ),
        (_computer(action="type", text=5), ["tool_call.input.text"]),
        (_computer(action="type"), ["tool_call.input.text"]),
        (_computer(action="explode"), ["tool_call.input.action"]),
        (_computer(coordinate=[1, 1]), ["tool_call.input.action"]),
        (
            _computer(action="key", text="a", coordinate=[1, 1], at=2),
            ["tool_call.input.at", "tool_call.input.coordinate"],
        ),
        (
            _computer(action="scroll", scroll_direction="sideways", scroll_amount=1),
            ["tool_call.input.scroll_direction"],
        ),
        (
            display_pb2.ActRequest(tool_call=_call("mouse", "computer_20250124", action="wait")),
            ["tool_call.name"],
        ),
        (
            display_pb2.ActRequest(tool_call=_call("computer", "computer_1999", action="wait")),
            ["tool_call.tool_type"],
        ),
        (
            display_pb2.ActRequest(tool_call=_call("computer", "", action="wait"), version=99),
            ["version"],
        ),
        (
            display_pb2.ActRequest(
                action=display_pb2.ComputerAction(screenshot=display_pb2.ScreenshotAction()),
                settle=display_pb2.SettlePolicy(max_ms=-1),
            ),
            ["settle.max_ms"],
        ),
    ],
)
async def test_bad_act_requests_name_their_fields(
    display_service: DisplayService, bad: display_pb2.ActRequest, fields: list[str]
) -> None:
    assert await _fields_named(display_service.stub.Act(bad)) == fields


def _typed(**action: object) -> display_pb2.ActRequest:
    return display_pb2.ActRequest(action=display_pb2.ComputerAction(**action))


POINT_OFF_SCREEN = common_pb2.Point(x=5000, y=1)
SHOT = display_pb2.ComputerAction(screenshot=display_pb2.ScreenshotAction())


@pytest.mark.x11
@pytest.mark.parametrize(
    ("bad", "fields"),
    [
        # Checked against the screen and the keymap, after parsing: the raw call's names.
        (_computer(action="left_click", coordinate=[5000, 1]), ["tool_call.input.coordinate"]),
        (_computer(action="key", text="ctrl+nosuchkey"), ["tool_call.input.text"]),
        (_computer(action="type", text="ok\x00"), ["tool_call.input.text"]),
        (
            _computer(action="scroll", scroll_direction="up", scroll_amount=0),
            ["tool_call.input.scroll_amount"],
        ),
        (_computer(action="wait", duration=1e9), ["tool_call.input.duration"]),
        (
            _computer(action="left_click_drag", start_coordinate=[1, 1], coordinate=[1, 5000]),
            ["tool_call.input.coordinate"],
        ),
        # A typed action's, by their place in `action`.
        (
            _typed(left_click=display_pb2.ClickAction(coordinate=POINT_OFF_SCREEN)),
            ["action.left_click.coordinate"],
        ),
        (
            _typed(left_click=display_pb2.ClickAction(modifiers="nosuchkey")),
            ["action.left_click.modifiers"],
        ),
        (_typed(key=display_pb2.KeyAction(text="")), ["action.key.text"]),
        (
            _typed(scroll=display_pb2.ScrollAction(direction=99, amount=1)),
            ["action.scroll.direction"],
        ),
        (
            _typed(zoom=display_pb2.ZoomAction(region=common_pb2.Rect(x0=5, x1=1, y1=3))),
            ["action.zoom.region"],
        ),
        (_typed(), ["action"]),
        (
            display_pb2.ActRequest(action=SHOT, screen_space=display_pb2.ScreenSpace(mode=99)),
            ["screen_space"],
        ),
        (
            display_pb2.ActRequest(
                action=SHOT, screenshot_options=display_pb2.ScreenshotOptions(format=99)
            ),
            ["screenshot_options"],
        ),
    ],
)
async def test_checks_against_the_screen_and_keymap_name_their_fields(
    display_service: DisplayService, bad: display_pb2.ActRequest, fields: list[str]
) -> None:
    assert await _fields_named(display_service.stub.Act(bad)) == fields
