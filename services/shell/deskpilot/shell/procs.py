"""What the shell's processes are doing, read from /proc, and ending them.

The shell runs in its own session, so every process it starts shares its session id
unless it calls setsid; those are still found as descendants of the shell.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# Syscall numbers (x86_64 and aarch64) of plain reads: a process blocked in one of these
# on the shell's stdin pipe waits for input that never comes.
_READ_SYSCALLS = {"x86_64": {0, 19, 17}, "aarch64": {63, 65, 67}}.get(os.uname().machine, set())


@dataclass(frozen=True)
class ProcInfo:
    """One process as /proc/<pid>/stat describes it."""

    pid: int
    ppid: int
    pgid: int
    sid: int
    start_ticks: int
    name: str


@dataclass(frozen=True)
class Mark:
    """A point in time that tells processes started after it from older ones."""

    ticks: int
    last_pid: int

    @classmethod
    def now(cls) -> Mark:
        """Cheap: one clock read and /proc/loadavg's most recently created pid."""
        with open("/proc/loadavg") as f:
            last_pid = int(f.read().split()[-1])
        return cls(int(time.clock_gettime(time.CLOCK_BOOTTIME) * _CLOCK_TICKS), last_pid)

    def is_before(self, proc: ProcInfo) -> bool:
        """True when `proc` was started after this mark."""
        if proc.start_ticks != self.ticks:
            return proc.start_ticks > self.ticks
        return proc.pid > self.last_pid  # same clock tick: pids grow


def read_proc(pid: int) -> ProcInfo | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    # The name is in parentheses and may itself hold spaces and parentheses.
    name = stat[stat.index("(") + 1 : stat.rindex(")")]
    fields = stat[stat.rindex(")") + 2 :].split()
    # fields[0] is field 3 (state): ppid=4, pgrp=5, session=6, starttime=22.
    return ProcInfo(pid, int(fields[1]), int(fields[2]), int(fields[3]), int(fields[19]), name)


def all_procs() -> list[ProcInfo]:
    procs = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (info := read_proc(int(entry))) is not None:
            procs.append(info)
    return procs


def family(shell_pid: int) -> list[ProcInfo]:
    """Every process in the shell's session or descended from it, the shell excluded."""
    procs = all_procs()
    children: dict[int, list[ProcInfo]] = {}
    for proc in procs:
        children.setdefault(proc.ppid, []).append(proc)
    found = {p.pid: p for p in procs if p.sid == shell_pid and p.pid != shell_pid}
    stack = [shell_pid]
    while stack:
        for child in children.get(stack.pop(), []):
            if child.pid not in found and child.pid != shell_pid:
                found[child.pid] = child
                stack.append(child.pid)
    return list(found.values())


def kill_started_after(shell_pid: int, mark: Mark, rounds: int = 10) -> int:
    """SIGKILL every process of the shell's family started after `mark`; returns how many.

    Repeats because a dying process tree can still fork while it is being killed.
    """
    killed = 0
    for _ in range(rounds):
        targets = [p for p in family(shell_pid) if mark.is_before(p)]
        if not targets:
            break
        for proc in targets:
            kill(proc.pid)
            killed += 1
    return killed


@contextlib.contextmanager
def frozen(pid: int, within_seconds: float = 1.0) -> Iterator[bool]:
    """Stop `pid` (SIGSTOP) for the block, which gets whether the kernel reports it
    stopped within `within_seconds`; it runs again (SIGCONT) afterwards."""
    send(pid, signal.SIGSTOP)
    try:
        deadline = time.monotonic() + within_seconds
        while not _stopped(pid) and time.monotonic() < deadline:
            time.sleep(0.001)
        yield _stopped(pid)
    finally:
        send(pid, signal.SIGCONT)


def catches(pid: int, sig: int) -> bool:
    """Whether `pid` has a handler for `sig` (and does not ignore it)."""
    masks = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("SigIgn", "SigCgt"):
                    masks[key] = int(value, 16)
    except (OSError, ValueError):
        return False
    bit = 1 << (sig - 1)
    return bool(masks.get("SigCgt", 0) & bit) and not masks.get("SigIgn", 0) & bit


def _stopped(pid: int) -> bool:
    """Stopped by a signal, or no longer running at all."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return True
    return stat[stat.rindex(")") + 2] in "TtZX"


def kill_family(shell_pid: int, rounds: int = 10) -> None:
    """SIGKILL the shell's process group, its session and every descendant."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(shell_pid, signal.SIGKILL)
    kill(shell_pid)
    for _ in range(rounds):
        targets = family(shell_pid)
        if not targets:
            break
        for proc in targets:
            kill(proc.pid)


def kill(pid: int) -> None:
    """SIGKILL `pid` alone; one that is gone already is not an error."""
    send(pid, signal.SIGKILL)


def send(pid: int, sig: int) -> None:
    """Deliver `sig` to `pid`; one that is gone already is not an error."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def waiting_on_pipe(pids: list[int], pipe_inode: int) -> list[int]:
    """The pids blocked reading the pipe with inode `pipe_inode`."""
    target = f"pipe:[{pipe_inode}]"
    waiting = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/syscall") as f:
                parts = f.read().split()
            if not parts or not parts[0].isdigit() or int(parts[0]) not in _READ_SYSCALLS:
                continue
            if os.readlink(f"/proc/{pid}/fd/{int(parts[1], 16)}") == target:
                waiting.append(pid)
        except (OSError, ValueError, IndexError):
            continue
    return waiting
