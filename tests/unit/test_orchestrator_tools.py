"""Tool definitions per tool set, which executor runs a tool_use, and what of its result the
gate scans."""

from __future__ import annotations

import pytest

from deskpilot.orchestrator.actions import scan_requests
from deskpilot.orchestrator.sandboxes.client import NO_OUTPUT, ToolOutcome, format_bash
from deskpilot.orchestrator.tools import (
    TOOL_SETS,
    Executor,
    executor_for,
    tool_definitions,
    tool_set_for_model,
)
from deskpilot.v1 import common_pb2, session_pb2, shell_pb2


@pytest.mark.parametrize("tool_set", list(TOOL_SETS))
def test_each_tool_set_defines_computer_bash_and_editor(tool_set: int) -> None:
    spec = TOOL_SETS[tool_set]
    tools = tool_definitions(tool_set, 1280, 800)
    assert [t["type"] for t in tools] == [spec.computer_type, spec.bash_type, spec.editor_type]
    if not spec.is_toolset:
        assert (tools[0]["display_width_px"], tools[0]["display_height_px"]) == (1280, 800)
    assert tools[2]["name"] == spec.editor_name


def test_zoom_and_max_characters_where_the_version_has_them() -> None:
    tools = tool_definitions(session_pb2.TOOL_SET_20251124, 1024, 768, max_characters=5000)
    assert tools[0]["enable_zoom"] is True
    assert tools[2]["max_characters"] == 5000
    older = tool_definitions(session_pb2.TOOL_SET_20250124, 1024, 768, max_characters=5000)
    assert "max_characters" not in older[2]


def test_tool_use_names_map_to_executors() -> None:
    toolset, classic = session_pb2.TOOL_SET_20260801, session_pb2.TOOL_SET_20250124
    assert executor_for(toolset, "zoom", "computer") is Executor.DISPLAY
    assert executor_for(toolset, "computer") is None  # the toolset has no "computer" tool
    assert executor_for(toolset, "teleport", "computer") is None
    assert executor_for(classic, "computer") is Executor.DISPLAY
    assert executor_for(classic, "left_click") is None
    assert executor_for(classic, "str_replace_editor") is Executor.EDITOR
    assert executor_for(classic, "str_replace_based_edit_tool") is None
    assert executor_for(toolset, "bash") is Executor.BASH


def test_default_tool_set_follows_the_model() -> None:
    assert tool_set_for_model("claude-3-5-sonnet-20241022") == session_pb2.TOOL_SET_20241022
    assert tool_set_for_model("claude-3-7-sonnet-20250219") == session_pb2.TOOL_SET_20250124
    assert tool_set_for_model("claude-sonnet-4-6") == session_pb2.TOOL_SET_20251124


def test_a_silent_commands_placeholder_is_not_sent_to_the_gate() -> None:
    # "(no output)" is the orchestrator's own text; scanning it once tainted sessions.
    call = common_pb2.ToolCall(name="bash", tool_use_id="t1")
    silent = ToolOutcome(text=format_bash(shell_pb2.BashResponse(exit_code=0)))
    assert silent.text == NO_OUTPUT
    assert scan_requests(call, Executor.BASH, silent) == []
    printed = ToolOutcome(text="hello")
    assert [r.text for r in scan_requests(call, Executor.BASH, printed)] == ["hello"]
