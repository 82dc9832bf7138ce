"""Running `deskpilot up` as a user's terminal would, and finding what it left running."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from pathlib import Path

from deskpilot.cli.stack import UpSettings, sandbox_user_notice
from deskpilot.common.config import load_settings
from deskpilot.common.net import free_port

READY = "all components ready"


def up_command(data_dir: Path, *extra: str) -> list[str]:
    """`deskpilot up` on free ports with its data in `data_dir`."""
    ports = {name: free_port() for name in ("safety", "orchestrator", "stand-in", "gateway")}
    # Where the sandbox user could not run this Python install (e.g. it lives under
    # /root), sandboxes keep the current user, as `deskpilot up` itself advises.
    user = "" if sandbox_user_notice(load_settings(UpSettings, None)) else "deskpilot"
    return [
        sys.executable, "-m", "deskpilot.cli", "up", "--data-dir", str(data_dir),
        "--nats-port", "0", "--sandbox-user", user,
        *(arg for name, port in ports.items() for arg in (f"--{name}-port", str(port))),
        *extra,
    ]  # fmt: skip


def descendants(root: int) -> dict[int, bytes]:
    """Every process below `root`, with its command line (to tell a reused pid apart)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if fields[0] != "Z":
                parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return {pid: command_line(pid) for pid in found}


def command_line(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def still_running(processes: dict[int, bytes]) -> dict[int, bytes]:
    """Those of `processes` that still run the same command."""
    return {pid: cmd for pid, cmd in processes.items() if cmd and command_line(pid) == cmd}


async def left_running(processes: dict[int, bytes], within: float = 60.0) -> dict[int, bytes]:
    """`still_running(processes)` once they are all gone or `within` seconds have passed."""
    deadline = time.monotonic() + within
    while still_running(processes) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    return still_running(processes)


async def read_until(stream: asyncio.StreamReader, text: str, log: list[str]) -> None:
    """Read lines into `log` until one holds `text`; AssertionError at end of output."""
    while not any(text in line for line in log):
        line = await asyncio.wait_for(stream.readline(), 120)
        assert line, "deskpilot up ended early:\n" + "".join(log)
        log.append(line.decode())
