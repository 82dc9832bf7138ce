"""`deskpilot up --stand-in-script FILE` runs `python -m deskpilot.cli.demo --script FILE`:
the file is played to every conversation from its start, as the demo is, and a scripted
error is served once per conversation position (the SDK's retry gets the turn after it).
Here the real process answers the real SDK, two conversations side by side."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import sys
from pathlib import Path
from typing import Any

import anthropic

from deskpilot.standin import BANNER, FINISHED_TEXT
from tests.fixtures.standin import MODEL, TEST_API_KEY

SCRIPT = {
    "turns": [
        {"error": {"status": 529, "retry_after": 0}},
        {"content": [{"type": "tool_use", "name": "bash", "input": {"command": "date"},
                      "id": "toolu_date"}]},
        "All done.",
    ]
}  # fmt: skip
BASH = [{"type": "bash_20250124", "name": "bash"}]


async def _listening_url(process: asyncio.subprocess.Process) -> str:
    assert process.stderr is not None
    while line := await asyncio.wait_for(process.stderr.readline(), timeout=30):
        if BANNER in (text := line.decode()):
            match = re.search(r"http://127\.0\.0\.1:\d+", text)
            assert match, text
            return match.group(0)
    raise AssertionError("the stand-in exited before listening")


class Conversation:
    """One SDK client holding one conversation, and the HTTP statuses it was answered."""

    def __init__(self, url: str, task: str) -> None:
        self.statuses: list[int] = []

        async def record(response: Any) -> None:  # the SDK's own HTTP client's response
            self.statuses.append(response.status_code)

        http = anthropic.DefaultAsyncHttpxClient(event_hooks={"response": [record]})
        self.client = anthropic.AsyncAnthropic(
            base_url=url, api_key=TEST_API_KEY, max_retries=2, http_client=http
        )
        self.messages: list[dict[str, Any]] = [{"role": "user", "content": task}]

    async def ask(self) -> Any:
        reply = await self.client.beta.messages.create(
            model=MODEL, max_tokens=100, messages=self.messages, tools=BASH
        )
        content = [block.model_dump(exclude_none=True) for block in reply.content]
        self.messages.append({"role": "assistant", "content": content})
        if reply.stop_reason == "tool_use":
            result = {"type": "tool_result", "tool_use_id": reply.content[0].id, "content": "noon"}
            self.messages.append({"role": "user", "content": [result]})
        else:
            self.messages.append({"role": "user", "content": "and now?"})
        return reply.content[0]


async def test_a_script_file_plays_to_each_conversation_from_its_start(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps(SCRIPT))
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "deskpilot.cli.demo", "--script", str(script), "--port", "0",
        "--log-format", "text", stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        url = await _listening_url(process)
        first, second = Conversation(url, "What time is it?"), Conversation(url, "Same task.")
        assert (await first.ask()).id == "toolu_date"  # after the scripted 529, retried
        assert (await second.ask()).id == "toolu_date"  # the second session: from the start
        assert (await first.ask()).text == "All done."
        assert (await second.ask()).text == "All done."
        assert (await first.ask()).text == FINISHED_TEXT  # past the end, per conversation
        assert first.statuses == [529, 200, 200, 200]
        assert second.statuses == [529, 200, 200]
        # A third session with exactly the first one's task is a new conversation too.
        again = Conversation(url, "What time is it?")
        assert (await again.ask()).id == "toolu_date"
        assert again.statuses == [529, 200]
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), timeout=30) == 0
