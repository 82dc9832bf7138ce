"""The editor cannot leave its roots: not by a directory swapped for a symlink while
requests run, not by a hard link, not by `..`; symlinks that stay inside still work."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections import Counter
from pathlib import Path

import grpc

from tests.fixtures.shell import running_shell
from tests.integration.test_shell_editor import create, edit, replace, view

SECRET = "OUTSIDE-SECRET"

# Exchanges two names atomically (renameat2 RENAME_EXCHANGE) as fast as it can, so the
# name is always either the real directory or the symlink, never missing; stops when its
# stdin closes and prints how many swaps it made.
_SWAPPER = """
import ctypes, os, sys, threading
libc = ctypes.CDLL(None, use_errno=True)
a, b = (os.fsencode(name) for name in sys.argv[1:3])
done = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
print("ready", flush=True)
swaps = 0
while not done.is_set():
    for _ in range(1000):
        if libc.renameat2(-100, a, -100, b, 2) != 0:
            raise OSError(ctypes.get_errno(), "renameat2")
    swaps += 1000
print(swaps, flush=True)
"""


class Swapper:
    """A process swapping `name` between a directory and a symlink to `outside`."""

    def __init__(self, name: Path, outside: Path) -> None:
        self.parked = name.with_name(name.name + ".parked")
        self.parked.symlink_to(outside)
        self.process = subprocess.Popen(
            [sys.executable, "-c", _SWAPPER, str(name), str(self.parked)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None and self.process.stdout.readline() == "ready\n"

    def stop(self) -> int:
        """Stop swapping; how many swaps were made."""
        out, _ = self.process.communicate(timeout=30)
        assert self.process.returncode == 0, out
        return int(out)


async def test_swapping_a_directory_for_a_symlink_never_leads_outside(tmp_path: Path) -> None:
    async with running_shell(tmp_path) as shell:
        outside = shell.outside / "target"
        outside.mkdir()
        (outside / "f.txt").write_text(f"token {SECRET}\n")
        (outside / f"{SECRET}.txt").write_text("")
        outside_files = {p.name: (p.stat().st_ino, p.read_bytes()) for p in outside.iterdir()}
        swapped = shell.home / "swap"
        swapped.mkdir()
        (swapped / "f.txt").write_text("token inside\n")
        requests = []
        for index in range(750):
            requests += [
                view(swapped / "f.txt"),
                view(swapped),
                create(swapped / f"new-{index}.txt", f"created {index}\n"),
                replace(swapped / "f.txt", "token", "token"),
            ]
        seen: Counter[str] = Counter()
        escapes: list[str] = []
        limit = asyncio.Semaphore(8)

        async def send(command: dict) -> None:
            async with limit:
                try:
                    result = await edit(shell, **command)
                except grpc.aio.AioRpcError as error:
                    seen[error.code().name] += 1
                    return
            seen["OK"] += 1
            if SECRET in result.output or not result.path.startswith(str(shell.home)):
                escapes.append(f"{next(iter(command))} {result.path}: {result.output[:200]}")

        swapper = Swapper(swapped, outside)
        try:
            await asyncio.gather(*(send(command) for command in requests))
        finally:
            swaps = swapper.stop()
        written = {p.name: (p.stat().st_ino, p.read_bytes()) for p in outside.iterdir()}
    new_outside = sorted(set(written) - set(outside_files))
    escaped = Counter(escape.split()[0] for escape in escapes)
    print(f"{swaps} swaps; results {dict(seen)}; escapes {dict(escaped)}; "
          f"{len(new_outside)} files written outside")  # fmt: skip
    assert escapes == []
    assert written == outside_files
    # The race really ran: requests landed on both sides of the swap, and none was INTERNAL.
    assert swaps > 10_000
    assert seen["OK"] > 0 and seen["INVALID_ARGUMENT"] > 0
    assert set(seen) <= {"OK", "INVALID_ARGUMENT", "NOT_FOUND", "FAILED_PRECONDITION"}
