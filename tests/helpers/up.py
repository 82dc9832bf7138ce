"""Running `deskpilot up` as a user's terminal would."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from deskpilot.common.net import free_port

READY = "all components ready"


def up_command(data_dir: Path, *extra: str) -> list[str]:
    """`deskpilot up` on free ports with its data in `data_dir`."""
    ports = {name: free_port() for name in ("safety", "orchestrator", "stand-in", "gateway")}
    return [
        sys.executable, "-m", "deskpilot.cli", "up", "--data-dir", str(data_dir),
        "--nats-port", "0",
        *(arg for name, port in ports.items() for arg in (f"--{name}-port", str(port))),
        *extra,
    ]  # fmt: skip


async def read_until(stream: asyncio.StreamReader, text: str, log: list[str]) -> None:
    """Read lines into `log` until one holds `text`; AssertionError at end of output."""
    while not any(text in line for line in log):
        line = await asyncio.wait_for(stream.readline(), 120)
        assert line, "deskpilot up ended early:\n" + "".join(log)
        log.append(line.decode())
