"""`python -m deskpilot.standin`: a script file served from its own process."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import sys
from pathlib import Path

import anthropic

from deskpilot.standin import BANNER
from tests.fixtures.standin import MODEL, TEST_API_KEY

SCRIPT = {
    "turns": [
        {
            "content": [
                {
                    "type": "tool_use",
                    "name": "bash",
                    "input": {"command": "date"},
                    "id": "toolu_fixed",
                }
            ]
        },
        {"error": {"status": 529}},
        "All done.",
    ]
}


async def _listening_url(process: asyncio.subprocess.Process) -> str:
    assert process.stderr is not None
    while line := await asyncio.wait_for(process.stderr.readline(), timeout=30):
        text = line.decode()
        if BANNER in text:
            match = re.search(r"http://127\.0\.0\.1:\d+", text)
            assert match, text
            return match.group(0)
    raise AssertionError("the stand-in exited before listening")


async def test_script_file_served_by_a_subprocess(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps(SCRIPT))
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "deskpilot.standin", "--script", str(script), "--port", "0",
        "--log-format", "text",
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        url = await _listening_url(process)
        client = anthropic.AsyncAnthropic(base_url=url, api_key=TEST_API_KEY, max_retries=1)
        bash = [{"type": "bash_20250124", "name": "bash"}]
        hello = {"role": "user", "content": "What time is it?"}
        first = await client.beta.messages.create(
            model=MODEL, max_tokens=100, messages=[hello], tools=bash
        )
        assert first.content[0].id == "toolu_fixed"
        assert first.content[0].input == {"command": "date"}
        answer = {"type": "tool_result", "tool_use_id": "toolu_fixed", "content": "noon"}
        assistant = {
            "role": "assistant",
            "content": [first.content[0].model_dump(exclude_none=True)],
        }
        second = await client.beta.messages.create(  # the 529 is retried once
            model=MODEL, max_tokens=100, tools=bash,
            messages=[hello, assistant, {"role": "user", "content": [answer]}],
        )  # fmt: skip
        assert second.content[0].text == "All done."
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), timeout=30) == 0


async def test_bad_script_file_exits_with_a_clear_error(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text('[{"content": [{"type": "sound"}]}]')
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "deskpilot.standin", "--script", str(script),
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 2
    assert "cannot load script" in stderr.decode()
