"""A script played per conversation: the answer follows the conversation's number of
assistant turns, and an error turn is served once per position, the SDK's retries told
apart by their retry count or, without one, by the request repeating exactly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from deskpilot.standin import FINISHED_TEXT, ConversationScript, Turn


def _conversation(task: str, answered: int) -> dict[str, Any]:
    messages: list[dict[str, Any]] = [{"role": "user", "content": task}]
    for n in range(answered):
        messages += [{"role": "assistant", "content": f"answer {n}"},
                     {"role": "user", "content": f"more {n}"}]  # fmt: skip
    return {"messages": messages}


def _shown(turn: Turn) -> str:
    return f"error {turn.error.status}" if turn.error else turn.content[0].text  # type: ignore[union-attr]


async def test_each_position_serves_its_errors_once_then_its_turn() -> None:
    script = ConversationScript([Turn.failure(529), Turn.failure(500), "one", "two",
                                 Turn.failure(429)])  # fmt: skip
    start = _conversation("task", 0)
    served = [_shown(await script.next_turn(start, retries)) for retries in (0, 1, 2)]
    assert served == ["error 529", "error 500", "one"]
    assert _shown(await script.next_turn(_conversation("task", 1), 0)) == "two"
    # The script ends in an error: served once there, then the finished text.
    assert _shown(await script.next_turn(_conversation("task", 2), 0)) == "error 429"
    assert _shown(await script.next_turn(_conversation("task", 2), 1)) == FINISHED_TEXT
    # Another conversation, even with the same task, starts again with the first error.
    assert _shown(await script.next_turn(_conversation("task", 0), 0)) == "error 529"


async def test_without_a_retry_count_an_exact_repeat_is_a_retry() -> None:
    script = ConversationScript([Turn.failure(529), "one", "two"])
    start = _conversation("task", 0)
    assert [_shown(await script.next_turn(start)) for _ in range(3)] == [
        "error 529", "one", "one"]  # fmt: skip
    assert _shown(await script.next_turn(_conversation("other", 0))) == "error 529"
    assert _shown(await script.next_turn(_conversation("other", 1))) == "two"


def test_a_file_reads_like_any_script(tmp_path: Path) -> None:
    path = tmp_path / "turns.json"
    path.write_text(json.dumps({"turns": [{"error": {"status": 529}}, "hi"]}))
    script = ConversationScript.from_file(path)
    assert isinstance(script, ConversationScript) and script.remaining == 2
