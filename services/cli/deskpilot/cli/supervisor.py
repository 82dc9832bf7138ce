"""A small process supervisor for the local stack (`deskpilot up`).

It starts components in dependency order, waits for each to be ready (gRPC health
SERVING, an HTTP health URL answering 200, or a NATS port accepting connections),
prefixes and streams their logs, and on Ctrl-C / SIGTERM / SIGHUP stops them in reverse
order: SIGTERM first, SIGKILL after the grace period. If any component fails to start or
dies, everything is stopped and the exit code says so.

It alone signals its children, whatever the terminal does. Each child runs in its own
session (`deskpilot.common.processes`), so Ctrl-C, which a terminal sends to its whole
foreground process group, reaches only the supervisor; the orchestrator then stops before
NATS, not after it. When its output goes away (`deskpilot up | tee log` and the reader
died), it stops everything too, without writing more. And when the supervisor itself is
killed (SIGKILL), the kernel sends each child SIGTERM, so none outlives it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from deskpilot.cli.components import Invocation, dependency_order
from deskpilot.cli.serving import Grpc, Http, until_serving
from deskpilot.common.natsserver import NatsServer
from deskpilot.common.processes import PIPE, STDOUT, AsyncChild, exit_description, spawn_async
from deskpilot.common.readiness import NotReady, until_ready
from deskpilot.common.signals import STOP_SIGNALS, stop_event

_COLOURS = ("36", "35", "33", "32", "34", "31")
# A closed terminal hangs up its session's processes: stop as on Ctrl-C.
UP_STOP_SIGNALS = (*STOP_SIGNALS, signal.SIGHUP)
# What children get when the supervisor dies without stopping them: they stop cleanly.
CHILD_DEATH_SIGNAL = signal.SIGTERM
# A component's own readiness check reports its timeout with its last error; the process
# watch gives it this long to do so before it reports a plain timeout.
_CHECK_REPORT_SECONDS = 2.0
_OUTPUT_DRAIN_SECONDS = 2.0


class ComponentFailed(RuntimeError):
    """A component did not start, or stopped on its own."""


@dataclass
class ProcessComponent:
    """A child process, ready when its gRPC health check answers SERVING.

    `command` may be a function, called at start: a dependency's address is known only
    once it runs (e.g. nats-server on a port it chose)."""

    name: str
    command: Invocation | Callable[[], Invocation]
    address: str
    health_service: str = ""
    depends_on: tuple[str, ...] = ()
    child: AsyncChild | None = None
    _pump: asyncio.Task[None] | None = None

    def invocation(self) -> Invocation:
        return self.command() if callable(self.command) else self.command

    @property
    def argv(self) -> list[str]:
        return self.invocation().argv

    @property
    def env(self) -> Mapping[str, str]:
        """What it gets beyond this process's environment."""
        return self.invocation().env

    async def start(self, emit: Callable[[str], None], timeout: float) -> None:
        invocation = self.invocation()
        self.child = await spawn_async(
            self.name,
            invocation.argv,
            stdout=PIPE,
            stderr=STDOUT,
            env={**os.environ, **invocation.env},
            die_with_parent=CHILD_DEATH_SIGNAL,
        )
        self._pump = asyncio.get_running_loop().create_task(_pump(self.child, emit))
        try:
            await until_ready(
                self.child, self.until_ready(timeout), timeout=timeout + _CHECK_REPORT_SECONDS
            )
        except NotReady as exc:
            raise ComponentFailed(str(exc)) from None

    async def until_ready(self, timeout: float) -> None:
        """Return once the process serves; TimeoutError after `timeout` seconds."""
        await until_serving(Grpc(self.health_service), self.address, timeout)

    async def wait(self) -> int:
        assert self.child is not None
        return await self.child.exited()

    async def stop(self, grace: float) -> None:
        if self.child is not None:
            await self.child.stop(grace)
        if self._pump is not None:  # its last words, unless something else holds the pipe
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._pump), _OUTPUT_DRAIN_SECONDS)
            self._pump.cancel()


@dataclass
class HttpProcessComponent(ProcessComponent):
    """A child process that serves HTTP, ready when `GET <health_path>` answers 200."""

    health_path: str = "/health"

    async def until_ready(self, timeout: float) -> None:
        await until_serving(Http(self.health_path), self.address, timeout)


@dataclass
class NatsComponent:
    """nats-server with JetStream, ready when it accepts client connections."""

    server: NatsServer
    name: str = "nats"
    depends_on: tuple[str, ...] = ()
    _tail: asyncio.Task[None] | None = None
    _stopped: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def address(self) -> str:
        return self.server.url

    @property
    def endpoint(self) -> str:
        """`host:port`, once it runs."""
        return self.server.endpoint

    async def start(self, emit: Callable[[str], None], timeout: float) -> None:
        log_path = self.server.log_path
        offset = log_path.stat().st_size if log_path.exists() else 0
        try:
            # On this thread: the server's parent-death signal is tied to it.
            await self.server.start_async(timeout)
        except NotReady as exc:
            raise ComponentFailed(f"nats: {exc}") from None
        self._tail = asyncio.get_running_loop().create_task(
            _follow(log_path, offset, emit, self._stopped)
        )

    async def wait(self) -> int:
        return await self.server.exited()

    async def stop(self, grace: float) -> None:
        await self.server.stop_async(grace)
        self._stopped.set()
        if self._tail is not None:  # its last log lines ("Server Exiting..") still show
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._tail), _OUTPUT_DRAIN_SECONDS)
            self._tail.cancel()


Component = ProcessComponent | HttpProcessComponent | NatsComponent


class Supervisor:
    """Runs components until a signal arrives, its output goes away, or one of them dies."""

    def __init__(
        self,
        components: Sequence[Component],
        *,
        out: TextIO | None = None,
        ready_timeout: float = 20.0,
        grace_seconds: float = 10.0,
        ready_notes: Callable[[], Sequence[str]] = tuple,
    ) -> None:
        """`ready_notes()`: what to say once every component is ready (the login link)."""
        self.components = order_by_dependencies(components)
        self.ready_notes = ready_notes
        self.out = out or sys.stdout
        self.ready_timeout = ready_timeout
        self.grace_seconds = grace_seconds
        self.output_lost = False
        self._colour = self.out.isatty()
        self._width = max((len(c.name) for c in self.components), default=4)
        self._started: list[Component] = []
        self._stop: asyncio.Event | None = None

    def emitter(self, name: str, index: int) -> Callable[[str], None]:
        prefix = f"{name:<{self._width}} |"
        if self._colour:
            prefix = f"\x1b[{_COLOURS[index % len(_COLOURS)]}m{prefix}\x1b[0m"
        return lambda line: self._write(f"{prefix} {line}\n")

    def say(self, text: str) -> None:
        prefix = f"{'up':<{self._width}} |"
        self._write("".join(f"{prefix} {line}\n" for line in text.splitlines() or [""]))

    def _write(self, text: str) -> None:
        """Write to the output; once that fails (a pipe whose reader is gone), stop the
        stack and write no more: the children's output is still read and dropped."""
        if self.output_lost:
            return
        try:
            self.out.write(text)
            self.out.flush()
        except (OSError, ValueError):  # BrokenPipeError; ValueError: the file was closed
            self.output_lost = True
            _silence(self.out)
            if self._stop is not None:
                self._stop.set()

    async def run(self, stop: asyncio.Event | None = None) -> int:
        """Start everything, run until `stop` (or SIGINT/SIGTERM/SIGHUP) or a death; stop
        everything it started. 0 on a requested stop, 1 when a component failed."""
        self._stop = stop or stop_event(UP_STOP_SIGNALS)
        if self.output_lost:  # gone before the start: nobody would see anything
            self._stop.set()
        try:
            return await self._run_until_stopped(self._stop)
        finally:
            await asyncio.shield(self.stop_all())

    async def _run_until_stopped(self, stop: asyncio.Event) -> int:
        stopped = asyncio.ensure_future(stop.wait())
        starting = asyncio.ensure_future(self._start_all())
        try:
            done, _ = await asyncio.wait({stopped, starting}, return_when=asyncio.FIRST_COMPLETED)
            if starting not in done:  # a stop while starting: no point going on
                return 0
            try:
                starting.result()
            except ComponentFailed as exc:
                self.say(f"error: {exc}")
                return 1
            self.say("all components ready; Ctrl-C stops them")
            for note in self.ready_notes():
                self.say(note)
            died = [asyncio.ensure_future(self._died(c)) for c in self.components]
            done, _ = await asyncio.wait([stopped, *died], return_when=asyncio.FIRST_COMPLETED)
            for task in died:
                task.cancel()
            return 0 if stopped in done else 1
        finally:
            for task in (stopped, starting):
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError, ComponentFailed):
                await starting

    async def _start_all(self) -> None:
        for index, component in enumerate(self.components):
            self.say(f"starting {component.name}")
            self._started.append(component)
            await component.start(self.emitter(component.name, index), self.ready_timeout)
            self.say(f"{component.name} ready at {component.address}")

    async def _died(self, component: Component) -> None:
        code = await component.wait()
        self.say(f"error: {component.name} exited unexpectedly: it {exit_description(code)}")

    async def stop_all(self) -> None:
        """Stop what was started, in reverse order: dependents before what they use."""
        for component in reversed(self._started):
            self.say(f"stopping {component.name}")
            await component.stop(self.grace_seconds)
        self._started.clear()
        self.say("stopped")


def order_by_dependencies(components: Sequence[Component]) -> list[Component]:
    """Topological order; raises ValueError on an unknown dependency or a cycle."""
    by_name = {c.name: c for c in components}
    return [by_name[n] for n in dependency_order(by_name, lambda n: by_name[n].depends_on)]


def _silence(out: TextIO) -> None:
    """Point `out`'s descriptor at /dev/null, so the interpreter's last flush at exit does
    not fail again (Python would then exit with code 120)."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, out.fileno())
        os.close(devnull)


async def _pump(child: AsyncChild, emit: Callable[[str], None]) -> None:
    async for line in child.lines():
        emit(line.rstrip())


async def _follow(
    path: Path, offset: int, emit: Callable[[str], None], stopped: asyncio.Event
) -> None:
    """Stream lines appended to `path` after `offset` (the nats-server log), until
    `stopped` is set and everything written has been read."""
    with path.open("rb") as log:
        log.seek(offset)
        while True:
            line = log.readline()
            if line:
                emit(line.decode(errors="replace").rstrip())
            elif stopped.is_set():
                return
            else:
                await asyncio.sleep(0.2)
