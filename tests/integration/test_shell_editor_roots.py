"""The editor cannot leave its roots: not by a directory swapped for a symlink while
requests run, not by a hard link, not by `..`; symlinks that stay inside still work."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import grpc

from tests.fixtures.shell import ShellHandle, running_shell
from tests.integration.test_shell_editor import create, edit, insert, rejected, replace, undo, view

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


# -- hard links ---------------------------------------------------------------------------


async def test_a_hard_link_to_a_file_outside_is_refused(shell: ShellHandle) -> None:
    secret = shell.outside / "secret.txt"
    secret.write_text(f"token {SECRET}\n")
    before = (secret.stat().st_ino, secret.read_bytes())
    link = shell.home / "link.txt"
    os.link(secret, link)
    for command in (
        view(link),
        replace(link, "token", "changed"),
        insert(link, 0, "planted"),
        create(link, "overwritten\n"),
    ):
        error = await rejected(edit(shell, **command))
        assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert f"{link} has 2 hard links" in error.details()
        assert "cannot know where the other names lie" in error.details()
        assert SECRET not in error.details()
    assert (secret.stat().st_ino, secret.read_bytes()) == before
    assert link.read_bytes() == before[1] and link.stat().st_nlink == 2


async def test_undo_refuses_a_file_that_got_a_second_name(shell: ShellHandle) -> None:
    path = shell.home / "mine.txt"
    await edit(shell, **create(path, "v1\n"))
    await edit(shell, **replace(path, "v1", "v2"))
    os.link(path, shell.outside / "other-name.txt")
    error = await rejected(edit(shell, **undo(path)))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "hard links" in error.details()
    assert (shell.outside / "other-name.txt").read_text() == "v2\n"


# -- symlinks and `..` --------------------------------------------------------------------


async def test_symlinks_that_stay_inside_the_roots_are_followed(shell: ShellHandle) -> None:
    workspace = shell.home.parent / "workspace"
    (workspace / "w.txt").write_text("in the workspace\n")
    (shell.home / "sub").mkdir()
    (shell.home / "to_workspace.txt").symlink_to(workspace / "w.txt")  # absolute, other root
    (shell.home / "sub" / "up").symlink_to("../sub2")  # relative, through `..`, dangling
    (shell.home / "dir_alias").symlink_to("sub")
    (shell.home / "outside_link").symlink_to(shell.outside)

    edited = await edit(shell, **replace(shell.home / "to_workspace.txt", "in the", "in my"))
    assert edited.path == str(workspace / "w.txt")
    assert (workspace / "w.txt").read_text() == "in my workspace\n"
    created = await edit(shell, **create(shell.home / "sub" / "up" / "new.txt", "new\n"))
    assert created.path == str(shell.home / "sub2" / "new.txt")
    assert (shell.home / "sub2" / "new.txt").read_text() == "new\n"
    shown = await edit(shell, **view(shell.home / "dir_alias" / "up"))
    assert shown.path == str(shell.home / "sub2")
    assert f"{shell.home}/sub2/new.txt" in shown.output
    again = await edit(shell, **view(shell.home / ".." / "home" / "sub2" / "new.txt"))
    assert again.path == str(shell.home / "sub2" / "new.txt")
    # A listing shows a symlink leading outside as a name, and does not look inside it.
    listing = (await edit(shell, **view(shell.home))).output
    assert f"{shell.home}/outside_link\n" in listing and str(shell.outside) not in listing


async def test_links_and_dots_leading_outside_are_refused(shell: ShellHandle) -> None:
    (shell.outside / "secret.txt").write_text(f"{SECRET}\n")
    (shell.home / "relative_out").symlink_to("../outside")
    (shell.home / "dangling_out").symlink_to(shell.outside / "planted.txt")
    (shell.home / "proc_root").symlink_to(f"/proc/self/root{shell.outside}")
    attempts = [
        view(shell.home / "relative_out" / "secret.txt"),
        view(shell.home / "proc_root" / "secret.txt"),
        create(shell.home / "dangling_out", "x"),
        create(shell.home / "missing" / ".." / ".." / "outside" / "planted.txt", "x"),
        view(f"{shell.home}/../../../../../../../..{shell.outside}/secret.txt"),
    ]
    for attempt in attempts:
        error = await rejected(edit(shell, **attempt))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "outside the directories the editor may use" in error.details()
    assert sorted(os.listdir(shell.outside)) == ["secret.txt"]
    assert not (shell.home / "missing").exists()


async def test_at_most_forty_symlinks_are_followed(shell: ShellHandle) -> None:
    (shell.home / "end.txt").write_text("end\n")
    for hop in range(41):  # link0 -> link1 -> ... -> link40 -> end.txt
        target = "end.txt" if hop == 40 else f"link{hop + 1}"
        (shell.home / f"link{hop}").symlink_to(target)
    forty = await edit(shell, **view(shell.home / "link1"))
    assert forty.path == str(shell.home / "end.txt")
    error = await rejected(edit(shell, **view(shell.home / "link0")))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "Too many levels of symbolic links" in error.details()


# -- the roots themselves -----------------------------------------------------------------


async def test_a_root_replaced_by_a_symlink_is_refused(tmp_path: Path) -> None:
    async with running_shell(tmp_path) as shell:
        (shell.outside / "secret.txt").write_text(f"{SECRET}\n")
        shell.home.rename(tmp_path / "old_home")
        shell.home.symlink_to(shell.outside)
        for command in (view(shell.home / "secret.txt"), create(shell.home / "new.txt", "x")):
            error = await rejected(edit(shell, **command))
            assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert f"{shell.home}, one of the directories the editor may use" in error.details()
        assert sorted(os.listdir(shell.outside)) == ["secret.txt"]


async def test_a_missing_root_is_not_created(tmp_path: Path) -> None:
    absent = tmp_path / "absent"
    async with running_shell(tmp_path, roots=[str(tmp_path / "home"), str(absent)]) as shell:
        error = await rejected(edit(shell, **create(absent / "new.txt", "x")))
        assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "is missing or is no longer a real directory" in error.details()
    assert not absent.exists()


# -- descriptors --------------------------------------------------------------------------


async def test_no_descriptor_is_left_open(shell: ShellHandle) -> None:
    (shell.home / "f.txt").write_text("one\n")
    (shell.home / "loop").symlink_to("loop")
    commands = [
        view(shell.home),
        view(shell.home / "f.txt"),
        replace(shell.home / "f.txt", "one", "one"),
        create(shell.home / "a" / "b" / "c.txt", "x"),
        view(shell.home / "missing" / "x"),
        view(shell.home / "f.txt" / "under"),
        view(shell.home / "loop"),
        view(shell.outside),
        undo(shell.home / "a" / "b" / "c.txt"),
    ]

    async def run_all() -> None:
        for command in commands:
            with contextlib.suppress(grpc.aio.AioRpcError):
                await edit(shell, **command)

    await run_all()  # the channel and server open what they need once
    open_before = len(os.listdir("/proc/self/fd"))
    for _ in range(20):
        await run_all()
    assert len(os.listdir("/proc/self/fd")) == open_before
