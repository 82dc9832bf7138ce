"""The README's "First session", run as written: each command of its shell blocks (and the
approve it tells you to type elsewhere) through bash, against a real orchestrator stack,
each one succeeding. The model's answers are scripted like the demo's."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

from deskpilot.standin import Turn
from deskpilot.v1 import orchestrator_pb2
from tests.helpers.cli import Result, cli_env

ROOT = Path(__file__).resolve().parents[2]
SECTION = (ROOT / "README.md").read_text().split("## First session", 1)[1].split("\n## ", 1)[0]
TURNS = [
    Turn.tool_use("bash", {"command": "echo demo-step"}),
    Turn.text("The demo is done."),
    Turn.tool_use("bash", {"command": 'sudo -n true; echo "the approved step ran"'}),
    Turn.text("That was the last step."),
]


def _commands() -> list[str]:
    """The lines of the section's shell blocks, without their comments."""
    blocks = re.findall(r"```sh\n(.*?)```", SECTION, re.S)
    lines = [re.sub(r"\s+#.*$", "", line).strip() for b in blocks for line in b.splitlines()]
    return [line for line in lines if line]


async def _bash(line: str, env: dict[str, str], *, background: bool = False):
    process = await asyncio.create_subprocess_exec(
        "bash", "-c", line, cwd=ROOT, env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    if background:
        return process
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return Result(process.returncode, out.decode(), err.decode())


async def test_the_first_session_works_as_written(orchestrator_stack) -> None:
    commands = _commands()
    activate, *commands = commands
    assert activate.startswith("source .venv/bin/activate")
    # Whichever virtualenv runs the tests stands for `.venv` here, and a token of the test
    # stack's key for the one `deskpilot up` would have written.
    env = {**cli_env(), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    async with orchestrator_stack(TURNS) as stack:
        env["DESKPILOT_CLI_ORCHESTRATOR"] = stack.replicas[0].server.address
        ran = []
        for line in commands:
            if line.startswith("ID="):
                got = await _bash(f'{line} && echo "$ID"', env)
                env["ID"] = got.out.strip()
                assert re.fullmatch(r"s-[0-9a-f]+", env["ID"]), got
                continue
            if line.startswith("deskpilot send "):
                result = await _send_and_approve_elsewhere(line, env)
                assert "the approved step ran" in result.out, result
            else:
                result = await _bash(line, env)
            assert result.code == 0, (line, result)
            assert "Traceback" not in result.err
            ran.append(line.split()[1])
        assert ran == ["run", "watch", "send", "take", "handback", "chat", "cancel", "delete"]
        gone = orchestrator_pb2.ListSessionsRequest()
        assert not (await stack.stub.ListSessions(gone)).sessions  # deleted, as it says


async def _send_and_approve_elsewhere(line: str, env: dict[str, str]) -> Result:
    """`send` waits for a person; answer with the approve command the README gives."""
    [approve] = re.findall(r"`(deskpilot approve [^`]*)`", SECTION)
    process = await _bash(line, env, background=True)
    assert process.stdout is not None
    seen = ""
    while "in another terminal" not in seen:
        chunk = await asyncio.wait_for(process.stdout.read(4096), 60)
        assert chunk, seen
        seen += chunk.decode()
    approved = await _bash(approve, env)
    assert approved.code == 0, approved
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return Result(process.returncode, seen + out.decode(), err.decode())
