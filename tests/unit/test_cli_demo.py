"""The scripted demo of `deskpilot up --stand-in`: every session plays it whole, the
editor gets absolute paths in the sandbox's home, and tool names fit the session's tools."""

from __future__ import annotations

from typing import Any

from deskpilot.cli.demo import demo_responder, demo_turns
from deskpilot.safety.action_check import ActionChecker, ActionSituation
from deskpilot.safety.policy import load_policy
from deskpilot.safety.verdict import Decision
from deskpilot.standin import TextBlock, ToolUseBlock, Turn

HOME = "/srv/sandboxes/local-3/home"
EDITOR_2025 = [{"type": "computer_20250124", "name": "computer"},
               {"type": "bash_20250124", "name": "bash"},
               {"type": "text_editor_20250728", "name": "str_replace_based_edit_tool"}]  # fmt: skip
TOOLSET = [{"type": "computer_toolset_20260801"}, {"type": "bash_20250124", "name": "bash"},
           {"type": "text_editor_20250124", "name": "str_replace_editor"}]  # fmt: skip


def _conversation(answered: int) -> list[dict[str, Any]]:
    """The task, then `answered` assistant turns each followed by its tool result."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": "demo"}]
    for index in range(answered):
        messages.append(
            {
                "role": "assistant",
                "content": [
                    {"type": "tool_use", "id": f"toolu_{index}", "name": "bash", "input": {}}
                ],
            }
        )
        result = f"{HOME}\n" if index == 0 else "ok"
        messages.append({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": f"toolu_{index}",
             "content": [{"type": "text", "text": result}]}]})  # fmt: skip
    return messages


def _tool(turn: Turn | None) -> ToolUseBlock:
    assert turn is not None
    [block] = [b for b in turn.content if isinstance(b, ToolUseBlock)]
    return block


def test_the_demo_uses_all_three_tools_then_ends_with_a_summary() -> None:
    respond = demo_responder(demo_turns())
    turns = [respond({"messages": _conversation(n), "tools": EDITOR_2025})
             for n in range(len(demo_turns()))]  # fmt: skip
    assert all(isinstance(t, Turn) for t in turns)
    task = turns[:7]  # the turns answering the task (a follow-up message gets the rest)
    calls = [_tool(t) for t in task[:-1]]
    assert {c.name for c in calls} == {"bash", "computer", "str_replace_based_edit_tool"}
    assert calls[0].name == "bash" and calls[0].input == {"command": 'echo "$HOME"'}
    edits = [c.input for c in calls if c.name == "str_replace_based_edit_tool"]
    assert [e["command"] for e in edits] == ["create", "str_replace"]
    assert all(e["path"] == f"{HOME}/deskpilot-demo.txt" for e in edits)
    [summary] = task[-1].content
    assert isinstance(summary, TextBlock) and "not Claude" in summary.text
    assert "approval" in summary.text  # it says what a follow-up message brings
    # Past the end: the stand-in's own "script finished" answer.
    assert respond({"messages": _conversation(len(turns)), "tools": EDITOR_2025}) is None


def test_a_follow_up_message_gets_a_step_that_waits_for_approval() -> None:
    respond = demo_responder(demo_turns())
    step, last = (respond({"messages": _conversation(n), "tools": EDITOR_2025}) for n in (7, 8))
    sudo = _tool(step)
    assert sudo.name == "bash"
    verdict = ActionChecker().check("bash", sudo.input, ActionSituation(), load_policy())
    assert verdict.decision == Decision.CONFIRM  # the real gate asks a person
    assert isinstance(last, Turn) and "last step" in last.content[0].text  # type: ignore[union-attr]


def test_each_session_gets_the_demo_from_the_start() -> None:
    respond = demo_responder(demo_turns())
    first = respond({"messages": _conversation(0), "tools": EDITOR_2025})
    respond({"messages": _conversation(3), "tools": EDITOR_2025})
    again = respond({"messages": _conversation(0), "tools": EDITOR_2025})
    assert first == again


def test_tool_names_follow_the_declared_tool_set() -> None:
    respond = demo_responder(demo_turns())
    screenshot = respond({"messages": _conversation(1), "tools": TOOLSET})
    create = respond({"messages": _conversation(2), "tools": TOOLSET})
    assert (_tool(screenshot).name, _tool(screenshot).input) == ("screenshot", {})
    assert _tool(create).name == "str_replace_editor"
