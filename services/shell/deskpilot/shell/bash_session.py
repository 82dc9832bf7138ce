"""One persistent bash process and the running of commands in it.

The shell reads commands from a pipe of its own (fd 3), each as NUL-terminated text it
`eval`s in its own context, so the working directory, variables and functions persist
and a syntax error in a command cannot desynchronise the protocol. After each command
it prints a random per-command token and the exit status on saved copies of stdout and
stderr, which is how completion is detected without waiting for EOF (so background jobs
never block a call). Commands get a stdin pipe nobody ever writes to: a process that
reads it waits for input that cannot come, which is detected and reported.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from deskpilot.common.processes import PIPE, AsyncChild, spawn_async
from deskpilot.shell import procs
from deskpilot.shell.markers import MarkerSplitter, ShellGone
from deskpilot.shell.output import BoundedOutput

# {input_fd} is our own descriptor number, never model input.
_DRIVER = r"""
exec 3<&0 4>&1 5>&2 0<&{input_fd} {input_fd}<&-
shopt -s expand_aliases
__dp_rc=0
__dp_status() {{ return "$1"; }}
while IFS= read -r -d '' -u 3 __dp_cmd; do
  __dp_status "$__dp_rc"
  # The one-pass loop absorbs a stray `break`/`continue`; every command starts with
  # the real stdout/stderr (an `exec >&-` lasts one call) and cannot touch fds 3-5.
  for __dp_once in 1; do eval "$__dp_cmd"; done 1>&4 2>&5 3<&- 4>&- 5>&-
  __dp_rc=$?
  IFS= read -r -d '' -u 3 __dp_tok || exit 0
  printf '%s%d\n' "$__dp_tok" "$__dp_rc" >&4
  printf '%s%d\n' "$__dp_tok" "$__dp_rc" >&5
done
"""

INPUT_NOTE = (
    "the command waited for input on stdin ({who}), which the bash tool cannot provide, "
    "so it was stopped. Interactive programs are not supported: pass input with a heredoc "
    "or a pipe (e.g. `python3 - <<'EOF' ... EOF`), or use non-interactive flags "
    "(e.g. `apt-get -y`, `sudo -n`)."
)
RESET_NOTE = "the working directory, variables and functions were reset"

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
        try:
            stdin.write(command.encode() + b"\0" + token + b"\0")
            await stdin.drain()
            status = await self._wait(both, timeout, mark, result)
        except asyncio.CancelledError:
            # The caller went away: end the command so the next one finds a free shell.
            await asyncio.shield(self._stop_command(both, mark, result, timed_out=False))
            raise
        except (ShellGone, ConnectionError):
            status = None
            await self._after_shell_exit(result)
        if status is not None and not result.timed_out and not result.waited_for_input:
            result.exit_code = status[0]
        return result

    async def _wait(
        self,
        both: asyncio.Future[list[int]],
        timeout: float,
        mark: procs.Mark,
        result: CommandResult,
    ) -> list[int] | None:
        """Wait for the markers, checking now and then for a wait on stdin."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return await self._stop_command(both, mark, result, timed_out=True)
            step = min(remaining, self.input_check_seconds)
            done, _ = await asyncio.wait([both], timeout=step)
            if done:
                return both.result()
            waiting = await asyncio.to_thread(self._waiting_for_input, mark)
            if waiting:
                result.waited_for_input = True
                result.notes.append(INPUT_NOTE.format(who=", ".join(waiting)))
                # The shell's own `read` cannot be killed apart from the shell.
                shell_reads = any(who == _SHELL_READ for who in waiting)
                return await self._stop_command(
                    both, mark, result, timed_out=False, grace=0 if shell_reads else None
                )

    async def _stop_command(
        self,
        both: asyncio.Future[list[int]],
        mark: procs.Mark,
        result: CommandResult,
        *,
        timed_out: bool,
        grace: float | None = None,
    ) -> list[int] | None:
        """Kill what the command started; restart the shell if it does not come back."""
        assert self._shell is not None
        result.timed_out = timed_out
        pid = self._shell.pid
        await asyncio.to_thread(procs.kill_started_after, pid, mark)
        grace = self.kill_grace_seconds if grace is None else grace
        done, _ = await asyncio.wait([both], timeout=grace) if grace else (set(), set())
        if done and both.exception() is None:
            if timed_out:
                result.notes.append(
                    "the command timed out and was killed with every process it started; "
                    "the shell is still usable (its state is kept)"
                )
            return both.result()
        for splitter in self._splitters.values():
            splitter.abandon()
        both.cancel()
        await self._stop()
        await self._start()
        result.restarted = True
        why = "timed out" if timed_out else "was stopped"
        result.notes.append(
            f"the command {why} inside the shell itself, so the shell was restarted ({RESET_NOTE})"
        )
        return None

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
        os.set_inheritable(input_read, True)
        try:
            # Its own session (as every child): no controlling terminal, its own group.
            driver = _DRIVER.format(input_fd=input_read)
            self._shell = await spawn_async(
                "bash",
                [self.shell_path, "--noprofile", "--norc", "-c", driver],
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
