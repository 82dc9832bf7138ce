"""Running the `deskpilot` command as a real subprocess in tests."""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass


@dataclass
class Result:
    """How a `deskpilot` run ended."""

    code: int
    out: str
    err: str


async def run_cli(*args: str, timeout: float = 60.0) -> Result:
    """`deskpilot ARGS` with no stdin; its exit code and output once it exits."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "deskpilot.cli", *args,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
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
    async def start(cls, *args: str, stdin: bool = False) -> Follower:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "deskpilot.cli", *args,
            stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
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
    """`deskpilot ARGS` on a real pseudo-terminal, as a person runs it: `until(text)` reads
    what it shows until `text` appears, `type(data)` types; use as `async with`."""

    def __init__(self, *args: str) -> None:
        self.args = args
        self.seen = ""
        self.process: asyncio.subprocess.Process | None = None
        self._controller = -1

    async def __aenter__(self) -> OnTerminal:
        self._controller, terminal = os.openpty()
        try:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "deskpilot.cli", *self.args,
                stdin=terminal, stdout=terminal, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
        finally:
            os.close(terminal)
        return self

    async def until(self, text: str, timeout: float = 60.0) -> str:
        while text not in self.seen:
            read = asyncio.to_thread(os.read, self._controller, 4096)
            chunk = await asyncio.wait_for(read, timeout)
            assert chunk, self.seen
            self.seen += chunk.decode(errors="replace")
        return self.seen

    def type(self, data: bytes) -> None:
        os.write(self._controller, data)

    async def exit_code(self, timeout: float = 60.0) -> int:
        assert self.process is not None
        return await asyncio.wait_for(self.process.wait(), timeout)

    async def __aexit__(self, *exc: object) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
        os.close(self._controller)
