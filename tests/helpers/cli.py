"""Running the `deskpilot` command as a real subprocess in tests."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from tests.fixtures.auth import test_auth


@dataclass
class Result:
    """How a `deskpilot` run ended."""

    code: int
    out: str
    err: str


def cli_env(token: str | None = "") -> dict[str, str]:
    """The environment of a `deskpilot` command presenting `token`: "" for the test user
    (`tests.fixtures.auth.USER`), None for none (the command looks for its own)."""
    env = {k: v for k, v in os.environ.items() if k != "DESKPILOT_CLI_TOKEN_FILE"}
    if token is not None:
        auth = test_auth()
        path = auth.token_file(token or auth.mint(), f"cli-{uuid.uuid4().hex[:8]}")
        env["DESKPILOT_CLI_TOKEN_FILE"] = str(path)
    return env


async def run_cli(
    *args: str,
    timeout: float = 60.0,
    token: str | None = "",
    cwd: Path | None = None,
    env_extra: dict[str, str] | None = None,
) -> Result:
    """`deskpilot ARGS` with no stdin, presenting `token` (see `cli_env`); its exit code
    and output once it exits."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "deskpilot.cli", *args,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env={**cli_env(token), **(env_extra or {})}, cwd=cwd,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode is not None
    return Result(process.returncode, out.decode(), err.decode())


class Follower:
    """A `deskpilot` command in the background whose output is read as it comes; with
    `stdin=True` it reads what the test types (a pipe, not a terminal)."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.out = ""

    @classmethod
    async def start(cls, *args: str, stdin: bool = False, token: str | None = "") -> Follower:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "deskpilot.cli", *args,
            stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=cli_env(token),
        )  # fmt: skip
        return cls(process)

    async def until(self, text: str, *, count: int = 1) -> str:
        """Read output until `text` appeared `count` times (fails if the command ends first)."""
        assert self.process.stdout is not None
        while self.out.count(text) < count:
            chunk = await asyncio.wait_for(self.process.stdout.read(4096), 60)
            assert chunk, f"the command ended before printing {text!r}:\n{self.out}"
            self.out += chunk.decode()
        return self.out

    async def type(self, line: str) -> None:
        """Type `line` and Enter on the command's stdin."""
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")
        await self.process.stdin.drain()

    def end_input(self) -> None:
        """Close stdin: the command reads the end of input (as Ctrl-D)."""
        assert self.process.stdin is not None
        self.process.stdin.close()

    async def finish(self) -> Result:
        out, err = await asyncio.wait_for(self.process.communicate(), 60)
        assert self.process.returncode is not None
        return Result(self.process.returncode, self.out + out.decode(), err.decode())


class OnTerminal:
    """A `deskpilot` command whose stdin and stdout are a terminal (a pseudo-terminal the
    test reads and types into), as when a person runs it."""

    def __init__(self, process: asyncio.subprocess.Process, controller: int) -> None:
        self.process = process
        self.seen = ""  # everything it wrote to the terminal so far
        self._controller = controller

    @classmethod
    @contextlib.asynccontextmanager
    async def running(cls, *args: str, token: str | None = "") -> AsyncIterator[OnTerminal]:
        """`deskpilot ARGS` on a new terminal, presenting `token` (see `cli_env`); killed
        afterwards if it still runs."""
        controller, terminal = os.openpty()
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "deskpilot.cli", *args,
                stdin=terminal, stdout=terminal, stderr=asyncio.subprocess.PIPE,
                env=cli_env(token),
            )  # fmt: skip
        finally:
            os.close(terminal)
        try:
            yield cls(process, controller)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
            os.close(controller)

    async def until(self, text: str) -> None:
        """Read the terminal until `text` has appeared (fails if it closes first)."""
        while text not in self.seen:
            read = asyncio.to_thread(os.read, self._controller, 4096)
            chunk = await asyncio.wait_for(read, 60)
            assert chunk, self.seen
            self.seen += chunk.decode(errors="replace")

    def type(self, keys: bytes) -> None:
        """Type `keys` (b"y\n", or b"\x04" for Ctrl-D)."""
        os.write(self._controller, keys)

    async def exit_code(self) -> int:
        return await asyncio.wait_for(self.process.wait(), 60)
