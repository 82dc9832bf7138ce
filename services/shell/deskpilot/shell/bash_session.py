"""One persistent bash process and the running of commands in it.

The shell runs a small driver (`driver.py`) and then reads one line per command from its
stdin pipe; each line `eval`s the command at the top level, so the working directory,
variables and functions persist and a syntax error in a command cannot desynchronise the
protocol. After each command it prints a random per-command token and the exit status
on saved copies of stdout and stderr, which is how completion is detected without
waiting for EOF (so background jobs never block a call). Commands get a stdin pipe
nobody ever writes to: a process that reads it waits for input that cannot come, which
is detected and reported.

A command that times out, waits for input or loses its caller is stopped whole: every
process it started is killed while the shell is frozen, and the shell is interrupted so
it abandons the rest of the command (see `driver.py`); its state is kept. A shell that
cannot be interrupted is killed and started afresh, and the result says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from deskpilot.common.processes import PIPE, AsyncChild, spawn_async
from deskpilot.shell import driver, procs
from deskpilot.shell.markers import MarkerSplitter, ShellGone
from deskpilot.shell.output import BoundedOutput

INPUT_NOTE = (
    "the command waited for input on stdin ({who}), which the bash tool cannot provide, "
    "so it was stopped. Interactive programs are not supported: pass input with a heredoc "
    "or a pipe (e.g. `python3 - <<'EOF' ... EOF`), or use non-interactive flags "
    "(e.g. `apt-get -y`, `sudo -n`)."
)
RESET_NOTE = "the working directory, variables and functions were reset"
KEPT_NOTE = (
    "every process it started was killed and nothing after it ran (not the rest of its "
    f"lines, not a trap); the shell's state is kept and `$?` is {driver.INTERRUPTED_STATUS}"
)

_SHELL_READ = "the shell itself (e.g. `read` or `exec`)"

ChunkCallback = Callable[[str, bytes], None]


@dataclass
class CommandResult:
    """What one command did."""

    stdout: BoundedOutput
    stderr: BoundedOutput
    exit_code: int | None = None
    timed_out: bool = False
    restarted: bool = False
    waited_for_input: bool = False
    notes: list[str] = field(default_factory=list)
    duration_s: float = 0.0


class BashSession:
    """A persistent bash in its own session, without a controlling terminal."""

    def __init__(
        self,
        shell_path: str,
        working_dir: str,
        *,
        kill_grace_seconds: float = 2.0,
        input_check_seconds: float = 0.25,
    ) -> None:
        self.shell_path = shell_path
        self.working_dir = working_dir
        self.kill_grace_seconds = kill_grace_seconds
        self.input_check_seconds = input_check_seconds
        self._shell: AsyncChild | None = None
        self._input_write_fd = -1
        self._input_inode = 0
        # Exists only while a command is being stopped (see `_make_private_dir`).
        self._private_dir = os.path.join(
            tempfile.gettempdir(), f"deskpilot-shell-{secrets.token_hex(16)}"
        )
        self._splitters = {"stdout": MarkerSplitter(), "stderr": MarkerSplitter()}
        self._readers: list[asyncio.Task[None]] = []
        self._lock = asyncio.Lock()

    @property
    def pid(self) -> int | None:
        """The real shell's pid (no wrapper in between)."""
        return self._shell.pid if self._shell else None

    async def run(
        self,
        command: str,
        timeout: float,
        max_output_bytes: int,
        on_chunk: ChunkCallback | None = None,
    ) -> CommandResult:
        """Run `command` in the persistent shell and return its bounded result."""
        async with self._lock:
            started = time.monotonic()
            result = await self._run(command, timeout, max_output_bytes, on_chunk)
            result.duration_s = time.monotonic() - started
            return result

    async def restart(self) -> None:
        """Kill the shell and everything it started, then start a fresh one."""
        async with self._lock:
            await self._stop()
            await self._start()

    async def close(self) -> None:
        async with self._lock:
            await self._stop()

    async def _run(
        self, command: str, timeout: float, limit: int, on_chunk: ChunkCallback | None
    ) -> CommandResult:
        restarted = False
        if self._shell is None or not self._shell.running:
            restarted = self._shell is not None
            await self._stop()
            await self._start()
        assert self._shell is not None
        stdin = self._shell.process.stdin
        assert stdin is not None
        token = f"__deskpilot_done_{secrets.token_hex(12)}__".encode()
        sinks, finished = {}, []
        for name, splitter in self._splitters.items():
            callback = None if on_chunk is None else (lambda data, n=name: on_chunk(n, data))
            sinks[name], done = splitter.begin(token, limit, callback)
            finished.append(done)
        result = CommandResult(sinks["stdout"], sinks["stderr"], restarted=restarted)
        if restarted:
            result.notes.append(f"the shell had exited, so a fresh one was started ({RESET_NOTE})")
        mark = procs.Mark.now()
        both = asyncio.gather(*finished)
        both.add_done_callback(_retrieve)  # a command given up on must not log its error
        stop = _Stop(both, mark, token, result)
        try:
            stdin.write(driver.command_line(token, command))
            await stdin.drain()
            status = await self._wait(stop, timeout)
        except asyncio.CancelledError:
            # The caller went away: end the command so the next one finds a free shell.
            await asyncio.shield(self._stop_command(stop, timed_out=False))
            raise
        except (ShellGone, ConnectionError):
            status = None
            await self._after_shell_exit(result)
        if status is not None and not result.timed_out and not result.waited_for_input:
            result.exit_code = status[0]
        return result

    async def _wait(self, stop: _Stop, timeout: float) -> list[int] | None:
        """Wait for the markers, checking now and then for a wait on stdin."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return await self._stop_command(stop, timed_out=True)
            step = min(remaining, self.input_check_seconds)
            done, _ = await asyncio.wait([stop.both], timeout=step)
            if done:
                return stop.both.result()
            waiting = await asyncio.to_thread(self._waiting_for_input, stop.mark)
            if waiting:
                stop.result.waited_for_input = True
                stop.result.notes.append(INPUT_NOTE.format(who=", ".join(waiting)))
                return await self._stop_command(stop, timed_out=False)

    async def _stop_command(self, stop: _Stop, *, timed_out: bool) -> list[int] | None:
        """Stop the command whole; restart the shell if it cannot be interrupted."""
        assert self._shell is not None
        result = stop.result
        result.timed_out = timed_out
        why = "timed out" if timed_out else "was stopped"
        try:
            if await asyncio.to_thread(self._interrupt, self._shell.pid, stop.mark):
                stdin = self._shell.process.stdin
                assert stdin is not None
                with contextlib.suppress(ConnectionError):
                    stdin.write(driver.recovery_line(stop.token))
                    await stdin.drain()
                done, _ = await asyncio.wait([stop.both], timeout=self.kill_grace_seconds)
                if done and stop.both.exception() is None:
                    result.notes.append(f"the command {why}: {KEPT_NOTE}")
                    return stop.both.result()
        finally:
            shutil.rmtree(self._private_dir, ignore_errors=True)
        for splitter in self._splitters.values():
            splitter.abandon()
        stop.both.cancel()
        await self._stop()
        await self._start()
        result.restarted = True
        result.notes.append(
            f"the command {why} and the shell could not be interrupted, so it was killed "
            f"with everything it started and restarted ({RESET_NOTE})"
        )
        return None

    def _interrupt(self, shell: int, mark: procs.Mark) -> bool:
        """Kill what the command started while the shell is frozen, then signal it to
        abandon the command; False (the shell killed too) when it would not.

        Frozen, the shell cannot go on to the rest of its command between a process's
        death and the signal: when it runs again, the signal is already waiting.
        """
        with procs.frozen(shell) as stopped:
            interruptible = False
            try:
                if stopped:
                    procs.kill_started_after(shell, mark)
                    interruptible = (
                        procs.catches(shell, driver.INTERRUPT_SIGNAL) and self._make_private_dir()
                    )
                if interruptible:
                    procs.send(shell, driver.INTERRUPT_SIGNAL)
            finally:
                # Whatever went wrong, the shell must not run on into the rest of its command.
                if not interruptible:
                    procs.kill(shell)
        return interruptible

    def _make_private_dir(self) -> bool:
        """The directory the driver saves traps in, with the interrupted file in it; made
        only now, so nothing is left behind in the temporary directory otherwise."""
        try:
            os.mkdir(self._private_dir, 0o700)  # fails on anything already there
            Path(driver.interrupted_file(self._private_dir)).touch()
        except OSError:
            return False
        return True

    def _waiting_for_input(self, mark: procs.Mark) -> list[str]:
        """Names of the command's processes blocked reading the never-written stdin."""
        assert self._shell is not None
        shell = self._shell.pid
        started = {p.pid: p.name for p in procs.family(shell) if mark.is_before(p)}
        started[shell] = _SHELL_READ
        waiting = procs.waiting_on_pipe(list(started), self._input_inode)
        return [f"{started[pid]} (pid {pid})" if pid != shell else started[pid] for pid in waiting]

    async def _after_shell_exit(self, result: CommandResult) -> None:
        """The command ended the shell (e.g. `exit`): report its status, start afresh."""
        assert self._shell is not None
        with contextlib.suppress(asyncio.TimeoutError):
            result.exit_code = await asyncio.wait_for(self._shell.exited(), self.kill_grace_seconds)
        await self._stop()
        await self._start()
        result.restarted = True
        result.notes.append(f"the command ended the shell; a fresh one was started ({RESET_NOTE})")

    async def _start(self) -> None:
        input_read, self._input_write_fd = os.pipe()
        self._input_inode = os.fstat(input_read).st_ino
        # Above the driver's own descriptor numbers, so moving it clobbers nothing.
        input_read = _above_nine(input_read)
        try:
            # Its own session (as every child): no controlling terminal, its own group.
            self._shell = await spawn_async(
                "bash",
                [self.shell_path, "--noprofile", "--norc", "-s"],
                stdin=PIPE,
                stdout=PIPE,
                stderr=PIPE,
                pass_fds=(input_read,),
                cwd=_existing_dir(self.working_dir),
                env=_shell_environment(),
            )
        finally:
            os.close(input_read)
        process = self._shell.process
        assert process.stdin is not None
        process.stdin.write(driver.script(input_read, self._private_dir, self.shell_path))
        for name, stream in (("stdout", process.stdout), ("stderr", process.stderr)):
            assert stream is not None
            self._readers.append(asyncio.create_task(self._read(stream, self._splitters[name])))

    async def _stop(self) -> None:
        shell, self._shell = self._shell, None
        if shell is not None:
            # Its family first (found through the living shell), then the shell itself.
            await asyncio.to_thread(procs.kill_family, shell.pid)
            await shell.stop(grace=0)
            if shell.process.stdin is not None:
                shell.process.stdin.close()
        for task in self._readers:
            task.cancel()
        for task in self._readers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._readers.clear()
        for splitter in self._splitters.values():
            splitter.eof()
        self._splitters = {"stdout": MarkerSplitter(), "stderr": MarkerSplitter()}
        if self._input_write_fd >= 0:
            os.close(self._input_write_fd)
            self._input_write_fd = -1

    @staticmethod
    async def _read(stream: asyncio.StreamReader, splitter: MarkerSplitter) -> None:
        while data := await stream.read(65536):
            splitter.feed(data)
        splitter.eof()


@dataclass
class _Stop:
    """What stopping a running command needs."""

    both: asyncio.Future[list[int]]
    mark: procs.Mark
    token: bytes
    result: CommandResult


def _above_nine(fd: int) -> int:
    """An inheritable copy of `fd` numbered 10 or more; `fd` itself is closed."""
    copy = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    os.set_inheritable(copy, True)
    return copy


def _retrieve(future: asyncio.Future[object]) -> None:
    if not future.cancelled():
        future.exception()


def _existing_dir(path: str) -> str:
    expanded = Path(path).expanduser()
    return str(expanded if expanded.is_dir() else Path.home())


def _shell_environment() -> dict[str, str]:
    """The service's environment, with pagers and prompts that cannot wait for a person."""
    env = dict(os.environ)
    env.setdefault("PAGER", "cat")
    env.setdefault("GIT_PAGER", "cat")
    env.setdefault("SYSTEMD_PAGER", "")
    env.setdefault("DEBIAN_FRONTEND", "noninteractive")
    env.setdefault("GIT_TERMINAL_PROMPT", "0")
    return env
