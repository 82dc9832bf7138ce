"""Running the `deskpilot` command as a real subprocess in tests."""

from __future__ import annotations

import asyncio
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
