"""The script: its JSON format, turn defaults and the order answers come in."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from deskpilot.standin import FINISHED_TEXT, Script, TextBlock, ToolUseBlock, Turn


def test_json_file_forms(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text(
        json.dumps(
            {
                "turns": [
                    "plain text",
                    {"content": [{"type": "tool_use", "name": "bash", "input": {"command": "ls"}}]},
                    {"content": [{"type": "text", "text": "cut"}], "stop_reason": "max_tokens"},
                    {"error": {"status": 429, "retry_after": 2}},
                ]
            }
        )
    )
    script = Script.from_file(path)
    assert script.remaining == 4
    text, tool, cut, error = script._turns
    assert text.content == [TextBlock(text="plain text")]
    assert text.resolved_stop_reason == "end_turn"
    assert isinstance(tool.content[0], ToolUseBlock)
    assert tool.resolved_stop_reason == "tool_use"
    assert cut.resolved_stop_reason == "max_tokens"
    assert error.error is not None
    assert (error.error.status, error.error.error_type, error.error.retry_after) == (
        429,
        "rate_limit_error",
        2,
    )


def test_a_bare_list_is_a_script() -> None:
    assert Script.from_json(["a", "b"]).remaining == 2


@pytest.mark.parametrize(
    "turn",
    [
        {"content": [{"type": "image"}]},
        {"content": [{"type": "text", "text": ""}]},
        {"content": [{"type": "tool_use", "input": {}}]},
        {"error": {"status": 200}},
        {"stop_reason": "because"},
        {"contents": []},
    ],
)
def test_malformed_turns_are_rejected(turn: dict) -> None:
    with pytest.raises(ValidationError):
        Script.from_json([turn])


async def test_turns_then_responder_then_finished() -> None:
    calls: list[int] = []

    def responder(request: dict) -> str | None:
        calls.append(len(request["messages"]))
        return "dynamic" if len(calls) == 1 else None

    script = Script([Turn.text("listed")], responder=responder)
    request = {"messages": [{"role": "user", "content": "x"}]}
    texts = [(await script.next_turn(request)).content[0].text for _ in range(3)]
    assert texts == ["listed", "dynamic", FINISHED_TEXT]
    assert calls == [1, 1]
    assert script.turns_served == 3
