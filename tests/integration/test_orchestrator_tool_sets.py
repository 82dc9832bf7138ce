"""Every tool set end to end: the orchestrator's requests (tools, betas, results, thinking)
are accepted by the stand-in, which rejects what the real API rejects, and each tool runs
on the real executors. Plus the no-progress limit."""

from __future__ import annotations

from pathlib import Path

import pytest

from deskpilot.standin import Turn
from deskpilot.standin.script import ToolUseBlock
from deskpilot.v1 import orchestrator_pb2, session_pb2
from tests.fixtures.orchestrator import follow_events, status_is

S = session_pb2
EDITOR = {
    S.TOOL_SET_20241022: "str_replace_editor",
    S.TOOL_SET_20250124: "str_replace_editor",
    S.TOOL_SET_20250429: "str_replace_based_edit_tool",
    S.TOOL_SET_20251124: "str_replace_based_edit_tool",
    S.TOOL_SET_20260801: "str_replace_based_edit_tool",
}


def _screenshot(tool_set: int, thought: str | None) -> Turn:
    if tool_set == S.TOOL_SET_20260801:
        return Turn(content=[ToolUseBlock(name="screenshot", input={})])
    return Turn.tool_use("computer", {"action": "screenshot"}, thinking=thought)


@pytest.mark.parametrize("tool_set", list(EDITOR))
async def test_each_tool_set_runs_all_three_tools(
    orchestrator_stack, tmp_path: Path, tool_set: int
) -> None:
    note = tmp_path / "home" / "note.txt"  # the shell executor's home in the stack
    thinking = tool_set == S.TOOL_SET_20251124  # one set also runs with extended thinking
    # With thinking on, a real model starts every turn with a thinking block (the API
    # requires them in tool loops), so the scripted model does too.
    thought = "Let me look first." if thinking else None
    turns = [
        _screenshot(tool_set, thought),
        Turn.tool_use("bash", {"command": "echo from-bash"}, thinking=thought),
        Turn.tool_use(EDITOR[tool_set], {"command": "view", "path": str(note)}, thinking=thought),
        Turn.text("done"),
    ]
    async with orchestrator_stack(turns) as stack:
        note.write_text("hello\n")
        config = S.SessionConfig(
            task="look around", model="claude-sonnet-4-6", tool_set=tool_set,
            thinking_budget_tokens=2048 if thinking else 0,
        )  # fmt: skip
        reply = await stack.stub.CreateSession(orchestrator_pb2.CreateSessionRequest(config=config))
        events = await follow_events(
            stack.stub, reply.session.id, status_is(S.SESSION_STATUS_WAITING_INPUT)
        )
        results = [e.tool_result for e in events if e.HasField("tool_result")]
        assert [r.is_error for r in results] == [False, False, False], [r.text for r in results]
        assert results[0].images and results[1].text == "from-bash" and "hello" in results[2].text
        # Every request passed the stand-in's checks of tools, betas and tool results.
        requests = stack.model.message_requests
        assert len(requests) == 4 and all(r.status == 200 for r in requests)
        sent = requests[-1]
        assert len(sent.tool_types) == 3
        if tool_set == S.TOOL_SET_20260801:
            [shot] = [b for b in sent.messages[2]["content"] if b["type"] == "tool_result"]
            assert shot["toolset_name"] == "computer"


async def test_the_same_action_on_an_unchanged_screen_ends_the_session(orchestrator_stack) -> None:
    repeat = Turn.tool_use("computer", {"action": "mouse_move", "coordinate": [5, 5]})
    async with orchestrator_stack([repeat] * 6) as stack:
        config = S.SessionConfig(task="t", model="claude-sonnet-4-6", tool_set=S.TOOL_SET_20250124)
        reply = await stack.stub.CreateSession(orchestrator_pb2.CreateSessionRequest(config=config))
        events = await follow_events(
            stack.stub, reply.session.id, lambda e: e.HasField("session_finished")
        )
        finished = events[-1].session_finished
        assert finished.status == S.SESSION_STATUS_FINISHED
        assert finished.reason.startswith("no progress")
        assert finished.steps == 4
