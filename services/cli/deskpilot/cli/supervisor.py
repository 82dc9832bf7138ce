"""A small process supervisor for the local stack (`deskpilot up`).

It starts components in dependency order, waits for each to be ready (gRPC health
SERVING, an HTTP health URL answering 200, or a NATS port accepting connections),
prefixes and streams their logs, and on Ctrl-C / SIGTERM stops them in reverse order:
SIGTERM first, SIGKILL after the grace period. If any component fails to start or dies,
everything is stopped and the exit code says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from deskpilot.common.grpc_client import wait_until_serving
from deskpilot.common.natsserver import NatsServer

_COLOURS = ("36", "35", "33", "32", "34", "31")


class ComponentFailed(RuntimeError):
    """A component did not start, or stopped on its own."""


@dataclass
class ProcessComponent:
    """A child process, ready when its gRPC health check answers SERVING."""

    name: str
    argv: Sequence[str]
    address: str
    health_service: str = ""
    # Values may be callables, resolved at start: a dependency's address is known only
    # once it runs (e.g. nats-server on a port it chose).
    env: dict[str, str | Callable[[], str]] = field(default_factory=dict)
    depends_on: tuple[str, ...] = ()
    _process: asyncio.subprocess.Process | None = None

    async def start(self, emit: Callable[[str], None], timeout: float) -> None:
        self._process = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, **{k: v() if callable(v) else v for k, v in self.env.items()}},
            start_new_session=True,  # Ctrl-C reaches the supervisor only; it stops children
        )
        asyncio.get_running_loop().create_task(_pump(self._process.stdout, emit))
        ready = asyncio.ensure_future(self.until_ready(timeout))
        exited = asyncio.ensure_future(self._process.wait())
        done, _ = await asyncio.wait({ready, exited}, return_when=asyncio.FIRST_COMPLETED)
        if exited in done:
            ready.cancel()
            raise ComponentFailed(f"{self.name} exited with code {exited.result()} while starting")
        exited.cancel()
        try:
            ready.result()
        except TimeoutError as exc:
            raise ComponentFailed(f"{self.name}: {exc}") from None

    async def until_ready(self, timeout: float) -> None:
        """Return once the process serves; TimeoutError after `timeout` seconds."""
        await wait_until_serving(self.address, service=self.health_service, timeout=timeout)

    async def wait(self) -> int:
        assert self._process is not None
        return await self._process.wait()

    async def stop(self, grace: float) -> None:
        process = self._process
        if process is None or process.returncode is not None:
            return
        _signal_group(process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), grace)
        except TimeoutError:
            _signal_group(process.pid, signal.SIGKILL)
            await process.wait()


@dataclass
class HttpProcessComponent(ProcessComponent):
    """A child process that serves HTTP, ready when `GET <health_path>` answers 200."""

    health_path: str = "/health"

    async def until_ready(self, timeout: float) -> None:
        url = f"http://{self.address}{self.health_path}"
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            try:
                status = await asyncio.to_thread(_http_status, url)
            except OSError as exc:
                last = str(exc)
            else:
                if status == 200:
                    return
                last = f"HTTP {status}"
            await asyncio.sleep(0.1)
        raise TimeoutError(f"{url} not ready after {timeout:.0f} s ({last})")


def _http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as reply:
            return reply.status
    except urllib.error.HTTPError as exc:
        return exc.code


@dataclass
class NatsComponent:
    """nats-server with JetStream, ready when it accepts client connections."""

    server: NatsServer
    name: str = "nats"
    depends_on: tuple[str, ...] = ()
    _tail: asyncio.Task[None] | None = None

    @property
    def address(self) -> str:
        return self.server.url

    async def start(self, emit: Callable[[str], None], timeout: float) -> None:
        log_path = self.server.log_path
        offset = log_path.stat().st_size if log_path.exists() else 0
        try:
            await asyncio.to_thread(self.server.start, timeout)
        except RuntimeError as exc:
            raise ComponentFailed(f"nats: {exc}") from None
        self._tail = asyncio.get_running_loop().create_task(_follow(log_path, offset, emit))

    async def wait(self) -> int:
        # NatsServer wraps a plain Popen, which offers nothing to await; poll it.
        while self.server.is_running:  # noqa: ASYNC110
            await asyncio.sleep(0.5)
        return 1

    async def stop(self, grace: float) -> None:
        await asyncio.to_thread(self.server.stop)
        if self._tail:
            self._tail.cancel()


Component = ProcessComponent | HttpProcessComponent | NatsComponent


class Supervisor:
    """Runs components until a signal arrives or one of them dies."""

    def __init__(
        self,
        components: Sequence[Component],
        *,
        out: TextIO | None = None,
        ready_timeout: float = 20.0,
        grace_seconds: float = 10.0,
    ) -> None:
        self.components = order_by_dependencies(components)
        self.out = out or sys.stdout
        self.ready_timeout = ready_timeout
        self.grace_seconds = grace_seconds
        self._colour = self.out.isatty()
        self._width = max((len(c.name) for c in self.components), default=4)
        self._started: list[Component] = []

    def emitter(self, name: str, index: int) -> Callable[[str], None]:
        prefix = f"{name:<{self._width}} |"
        if self._colour:
            prefix = f"\x1b[{_COLOURS[index % len(_COLOURS)]}m{prefix}\x1b[0m"

        def emit(line: str) -> None:
            self.out.write(f"{prefix} {line}\n")
            self.out.flush()

        return emit

    def say(self, text: str) -> None:
        self.out.write(f"{'up':<{self._width}} | {text}\n")
        self.out.flush()

    async def run(self, stop: asyncio.Event | None = None) -> int:
        """Start everything, wait for `stop` (or SIGINT/SIGTERM) or a death; 0 on a clean stop."""
        stop = stop or _stop_on_signals()
        try:
            for index, component in enumerate(self.components):
                self.say(f"starting {component.name}")
                self._started.append(component)
                await component.start(self.emitter(component.name, index), self.ready_timeout)
                self.say(f"{component.name} ready at {component.address}")
        except ComponentFailed as exc:
            self.say(f"error: {exc}")
            await self.stop_all()
            return 1
        self.say("all components ready; Ctrl-C stops them")
        died = [asyncio.ensure_future(self._died(c)) for c in self.components]
        stopped = asyncio.ensure_future(stop.wait())
        done, _ = await asyncio.wait([stopped, *died], return_when=asyncio.FIRST_COMPLETED)
        for task in (stopped, *died):
            task.cancel()
        code = 0 if stopped in done else 1
        await self.stop_all()
        return code

    async def _died(self, component: Component) -> None:
        code = await component.wait()
        self.say(f"error: {component.name} exited unexpectedly with code {code}")

    async def stop_all(self) -> None:
        for component in reversed(self._started):
            self.say(f"stopping {component.name}")
            await component.stop(self.grace_seconds)
        self._started.clear()
        self.say("stopped")


def order_by_dependencies(components: Sequence[Component]) -> list[Component]:
    """Topological order; raises ValueError on an unknown dependency or a cycle."""
    by_name = {c.name: c for c in components}
    ordered: list[Component] = []
    visiting: set[str] = set()

    def visit(component: Component) -> None:
        if component in ordered:
            return
        if component.name in visiting:
            raise ValueError(f"dependency cycle through {component.name}")
        visiting.add(component.name)
        for dep in component.depends_on:
            if dep not in by_name:
                raise ValueError(f"{component.name} depends on unknown component {dep}")
            visit(by_name[dep])
        visiting.discard(component.name)
        ordered.append(component)

    for component in components:
        visit(component)
    return ordered


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


def _signal_group(pid: int, sig: int) -> None:
    # Children run in their own session, so their own children are stopped too.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)


async def _pump(stream: asyncio.StreamReader | None, emit: Callable[[str], None]) -> None:
    if stream is None:
        return
    while line := await stream.readline():
        emit(line.decode(errors="replace").rstrip())


async def _follow(path: Path, offset: int, emit: Callable[[str], None]) -> None:
    """Stream lines appended to `path` after `offset` (the nats-server log)."""
    with path.open("rb") as log:
        log.seek(offset)
        while True:
            line = log.readline()
            if line:
                emit(line.decode(errors="replace").rstrip())
            else:
                await asyncio.sleep(0.2)
