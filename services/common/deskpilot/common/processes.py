"""Child processes, started and stopped the same way everywhere.

Every child runs in its own session, hence its own process group and no controlling
terminal: a terminal's Ctrl-C or hang-up reaches only the process that started it, which
decides when, and in what order, its children stop. Stopping signals the child's whole
group, so what it launched into the group goes too: SIGTERM, then SIGKILL once the grace
period is over. The child is always reaped, and stopping it again is harmless.

`die_with_parent` asks the kernel to send the child a signal when this process ends, even
by SIGKILL when it cannot stop anything itself (`PR_SET_PDEATHSIG`). The kernel ties that
to the thread that started the child, so such children are started from a thread that
lives as long as the process: the main thread, where asyncio runs.

Three kinds share `await stop()` and `await exited()`:
- `PopenChild` (`spawn`) for blocking code, with `stop_blocking()`;
- `AsyncChild` (`spawn_async`) on asyncio's subprocess, with its pipes;
- `AdoptedProcess` (`adopt`): one another process started, reached through a pidfd so a
  reused pid never gets the signal.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import ctypes
import os
import select
import signal
import subprocess
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Self, TypedDict, Unpack

DEFAULT_GRACE_SECONDS = 10.0
PIPE = subprocess.PIPE
STDOUT = subprocess.STDOUT
DEVNULL = subprocess.DEVNULL

_POLL_SECONDS = 0.02
_TAIL_LINES = 20
_TAIL_BYTES = 64 * 1024
_LINE_LIMIT = 1024 * 1024  # longest line read from a child's pipe (asyncio's default: 64 KiB)
_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)

Stream = int | IO[Any] | None


def exit_description(code: int) -> str:
    """`exited with code 3`, or `was killed (SIGKILL)` when a signal ended it."""
    if code >= 0:
        return f"exited with code {code}"
    try:
        return f"was killed ({signal.Signals(-code).name})"
    except ValueError:
        return f"was killed (signal {-code})"


async def pidfd_exited(pidfd: int) -> None:
    """Until the process behind `pidfd` has ended (a pidfd turns readable then)."""
    loop = asyncio.get_running_loop()
    ended = loop.create_future()
    loop.add_reader(pidfd, lambda: ended.done() or ended.set_result(None))
    try:
        await ended
    finally:
        loop.remove_reader(pidfd)


class _Stoppable(abc.ABC):
    """The stop sequence, written once for every kind of process."""

    name: str
    pid: int

    @abc.abstractmethod
    def send(self, sig: int) -> None:
        """Deliver `sig`; a process that is already gone is not an error."""

    @abc.abstractmethod
    def _leader_gone(self) -> bool:
        """Whether the process itself has ended (and, for our own children, is reaped)."""

    def _ended(self) -> bool:
        return self._leader_gone()

    def _stop_steps(self, grace: float) -> Iterator[float]:
        """SIGTERM, up to `grace` seconds for everything to end, then SIGKILL and the reap.

        Yields the pauses between checks, so one sequence serves blocking and async callers.
        """
        if self._ended():
            return
        if grace > 0:
            self.send(signal.SIGTERM)
            deadline = time.monotonic() + grace
            while not self._ended():
                if time.monotonic() >= deadline:
                    break
                yield _POLL_SECONDS
            else:
                return
        self.send(signal.SIGKILL)
        while not self._leader_gone():
            yield _POLL_SECONDS

    async def stop(self, grace: float = DEFAULT_GRACE_SECONDS) -> None:
        """SIGTERM, SIGKILL after `grace` seconds (0: at once); returns once it is reaped."""
        for pause in self._stop_steps(grace):
            await asyncio.sleep(pause)


class Child(_Stoppable):
    """A process this one started, in its own session; `log_path` holds its output, if
    it writes to a file."""

    def __init__(self, name: str, pid: int, log_path: Path | None) -> None:
        self.name = name
        self.pid = pid
        self.log_path = log_path
        self._recent: deque[str] = deque(maxlen=_TAIL_LINES)

    @property
    @abc.abstractmethod
    def returncode(self) -> int | None:
        """The exit code once it has ended (negative: the signal that ended it)."""

    @property
    def running(self) -> bool:
        return self.returncode is None

    @abc.abstractmethod
    async def exited(self) -> int:
        """Until it has ended; its exit code."""

    async def output_settled(self) -> None:
        """Until output it wrote before ending has been read (see `AsyncChild.lines`)."""

    def send(self, sig: int) -> None:
        """Deliver `sig` to the child's whole process group."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)

    def _leader_gone(self) -> bool:
        return self.returncode is not None

    def _ended(self) -> bool:
        return self._leader_gone() and not _group_alive(self.pid)

    def output_tail(self) -> str:
        """The last lines it printed: the end of its log file, then lines read from its pipe."""
        lines = _file_tail(self.log_path) if self.log_path is not None else []
        return "\n".join([*lines, *self._recent][-_TAIL_LINES:])

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, pid={self.pid}, returncode={self.returncode})"


class PopenChild(Child):
    """A child on `subprocess.Popen`, for blocking code."""

    def __init__(self, name: str, popen: subprocess.Popen[bytes], log_path: Path | None) -> None:
        super().__init__(name, popen.pid, log_path)
        self.popen = popen

    @property
    def returncode(self) -> int | None:
        return self.popen.poll()

    def wait(self, timeout: float | None = None) -> int:
        """Block until it ends (subprocess.TimeoutExpired after `timeout` seconds)."""
        return self.popen.wait(timeout)

    def stop_blocking(self, grace: float = DEFAULT_GRACE_SECONDS) -> None:
        """`stop()` for code without an event loop."""
        for pause in self._stop_steps(grace):
            time.sleep(pause)

    async def exited(self) -> int:
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):  # reaped meanwhile
                pidfd = os.pidfd_open(self.pid)
                try:
                    await pidfd_exited(pidfd)
                finally:
                    os.close(pidfd)
        return self.popen.wait()


class AsyncChild(Child):
    """A child on asyncio's subprocess; `process` has its pipes."""

    def __init__(
        self, name: str, process: asyncio.subprocess.Process, log_path: Path | None
    ) -> None:
        super().__init__(name, process.pid, log_path)
        self.process = process
        self._stdout_closed = asyncio.Event()
        if process.stdout is None:
            self._stdout_closed.set()

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    async def exited(self) -> int:
        return await self.process.wait()

    async def lines(self) -> AsyncIterator[str]:
        """Its stdout line by line, until it closes; the last lines are kept for
        `output_tail`. Only one reader at a time."""
        assert self.process.stdout is not None, f"{self.name}'s stdout is not a pipe"
        try:
            while raw := await self.process.stdout.readline():
                line = raw.decode(errors="replace").rstrip("\r\n")
                self._recent.append(line)
                yield line
        finally:
            self._stdout_closed.set()

    async def output_settled(self) -> None:
        # A child that prints and exits at once may be seen exiting before its last lines
        # are read: give the reader a moment, so an error can quote them.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stdout_closed.wait(), 1.0)


class AdoptedProcess(_Stoppable):
    """A process another one started (e.g. a replica that died), held by a pidfd: its
    pid may be reused once it ends, the pidfd never. Close it when done."""

    def __init__(self, name: str, pid: int, pidfd: int) -> None:
        self.name = name
        self.pid = pid
        self._pidfd = pidfd

    def send(self, sig: int) -> None:
        """Deliver `sig` to the process itself: its group is not ours to signal."""
        with contextlib.suppress(ProcessLookupError):
            signal.pidfd_send_signal(self._pidfd, sig)

    def _leader_gone(self) -> bool:
        readable, _, _ = select.select([self._pidfd], [], [], 0)
        return bool(readable)

    async def exited(self) -> None:
        await pidfd_exited(self._pidfd)

    def close(self) -> None:
        os.close(self._pidfd)


def adopt(pid: int, name: str, *, with_argument: bytes) -> AdoptedProcess | None:
    """The running process `pid` if `with_argument` is still one of its command line's
    words; None when it is gone or the pid now belongs to another program."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return None
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        command = []
    if with_argument not in command:
        os.close(pidfd)
        return None
    return AdoptedProcess(name, pid, pidfd)


class ServerProcess(abc.ABC):
    """A server run as child processes: `with server:` starts it and always stops it."""

    @abc.abstractmethod
    def start(self) -> object:
        """Start and return once it serves."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop everything it started; harmless when not running."""

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class SpawnOptions(TypedDict, total=False):
    """How to start a child; every key is optional."""

    log_path: Path | None  # stdout and stderr not given otherwise are appended here
    stdin: Stream  # default: /dev/null
    stdout: Stream  # default: the log, else inherited
    stderr: Stream
    env: Mapping[str, str] | None
    cwd: str | os.PathLike[str] | None
    pass_fds: Sequence[int]
    die_with_parent: signal.Signals | None  # see the module doc
    user: str | int | None
    group: str | int | None
    extra_groups: Sequence[str | int] | None


def spawn(name: str, argv: Sequence[str], **options: Unpack[SpawnOptions]) -> PopenChild:
    """Start `argv` in its own session (see `SpawnOptions`)."""
    with _popen_arguments(options) as arguments:
        popen = subprocess.Popen(list(argv), **arguments)
    return PopenChild(name, popen, options.get("log_path"))


async def spawn_async(
    name: str, argv: Sequence[str], **options: Unpack[SpawnOptions]
) -> AsyncChild:
    """`spawn` on asyncio's subprocess: `PIPE` streams are asyncio streams."""
    with _popen_arguments(options) as arguments:
        process = await asyncio.create_subprocess_exec(*argv, limit=_LINE_LIMIT, **arguments)
    return AsyncChild(name, process, options.get("log_path"))


@contextlib.contextmanager
def _popen_arguments(options: SpawnOptions) -> Iterator[dict[str, Any]]:
    """Popen's arguments for `options`, with the log file open while the child starts
    (it keeps its own copy of the descriptor)."""
    log_path = options.get("log_path")
    stdout, stderr = options.get("stdout"), options.get("stderr")
    with contextlib.ExitStack() as files:
        if log_path is not None and (stdout is None or stderr is None):
            log_path.parent.mkdir(parents=True, exist_ok=True)
            log = files.enter_context(log_path.open("ab"))
            stdout, stderr = (log, stderr or STDOUT) if stdout is None else (stdout, log)
        death_signal = options.get("die_with_parent")
        extra_groups = options.get("extra_groups")
        env = options.get("env")
        yield {
            "stdin": options.get("stdin", DEVNULL),
            "stdout": stdout,
            "stderr": stderr,
            "env": None if env is None else dict(env),
            "cwd": options.get("cwd"),
            "pass_fds": tuple(options.get("pass_fds", ())),
            "start_new_session": True,  # see the module doc
            "preexec_fn": None if death_signal is None else _dying_with_parent(death_signal),
            "user": options.get("user"),
            "group": options.get("group"),
            "extra_groups": None if extra_groups is None else list(extra_groups),
        }


def _dying_with_parent(sig: signal.Signals) -> Callable[[], None]:
    """A `preexec_fn` that has the kernel send `sig` to the child when this process ends.

    It runs in the child after the user switch (which would clear the setting) and before
    exec. If this process died before the setting took hold, the child stops at once
    instead of living on as an orphan."""
    parent = os.getpid()

    def set_parent_death_signal() -> None:
        if _libc.prctl(_PR_SET_PDEATHSIG, int(sig)) != 0:
            os._exit(127)
        if os.getppid() != parent:
            os._exit(1)

    return set_parent_death_signal


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _file_tail(path: Path) -> list[str]:
    try:
        with path.open("rb") as f:
            size = f.seek(0, os.SEEK_END)  # read only the end: logs may be large
            f.seek(max(0, size - _TAIL_BYTES))
            data = f.read()
    except OSError:
        return []
    return data.decode(errors="replace").splitlines()[-_TAIL_LINES:]
