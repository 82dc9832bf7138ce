"""What runs on this machine, read from /proc: for tests that check what a process left
behind."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path


def alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def process_parents() -> dict[int, int]:
    """pid → parent pid of every living (not zombie) process."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if fields[0] != "Z":
                parents[int(stat.parent.name)] = int(fields[1])
    return parents


def children(parent: int) -> list[int]:
    """The living processes whose parent is `parent`."""
    return [pid for pid, ppid in process_parents().items() if ppid == parent]


def child_running(parent: int, argument: bytes) -> int:
    """The child of `parent` with `argument` among its command line's words (e.g. the
    sandbox's `deskpilot.display` executor); StopIteration when there is none."""
    return next(pid for pid in children(parent) if argument in command_line(pid).split(b"\0"))


def descendants(root: int) -> dict[int, bytes]:
    """Every process below `root`, with its command line (to tell a reused pid apart)."""
    parents = process_parents()
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


def gone_soon(pids: list[int], within: float = 10.0) -> list[int]:
    """The pids still alive after giving them `within` seconds to die (init may reap them)."""
    deadline = time.monotonic() + within
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.02)
    return [pid for pid in pids if alive(pid)]


async def alive_after(pids: list[int], within: float = 10.0) -> list[int]:
    """`gone_soon` for an event loop: the pids still alive after `within` seconds."""
    deadline = time.monotonic() + within
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    return [pid for pid in pids if alive(pid)]
