"""The local sandbox provider: one `python -m deskpilot.sandbox` process per session on
this machine, and a small pool of warm sandboxes at the default size so a new session
does not wait for a desktop to start.

Each sandbox picks its own display number and ports and prints its ready report (a
`SandboxReady`, one line of proto3 JSON) once its X server, VNC port and executors
answer; stopping the process stops everything it started, and killing it kills
everything it started. A sandbox process that exits by itself
(killed, or stopped because its X server or an executor died) is reported by `wait_gone`
with the reason from its log.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import sys
import tempfile
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from deskpilot.common.environment import SYSTEM_PATH, allowed_environment
from deskpilot.common.errors import InvalidArgument, Unavailable
from deskpilot.common.processes import (
    PIPE,
    AdoptedProcess,
    AsyncChild,
    adopt,
    exit_description,
    spawn_async,
)
from deskpilot.common.readiness import NotReady, ready_line, until_ready
from deskpilot.common.sandbox_credential import new_credential, write_credential_file
from deskpilot.common.sandbox_ready import parse_ready_line
from deskpilot.common.sandbox_user import sandbox_python
from deskpilot.orchestrator.sandboxes.settings import LocalProviderSettings
from deskpilot.v1 import common_pb2, session_pb2

log = logging.getLogger("deskpilot.orchestrator.local")
_STOP_GRACE_SECONDS = 10.0


@dataclass
class _Sandbox:
    process: AsyncChild
    endpoints: session_pb2.SandboxEndpoints
    secrets: session_pb2.SandboxSecrets
    size: tuple[int, int]
    log_path: Path


class LocalSandboxProvider:
    """Starts sandboxes as child processes; keeps `pool_size` warm ones ready."""

    stops_on_release = True

    def __init__(
        self,
        *,
        pool_size: int = 1,
        default_size: tuple[int, int] = (1280, 800),
        work_dir: Path | None = None,
        x_server: str = "xvfb",
        ready_timeout: float = 60.0,
        user: str = "deskpilot",
        python: str = "",
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.pool_size = pool_size
        self.default_size = default_size
        self._own_work_dir = work_dir is None
        self.work_dir = work_dir or Path(tempfile.mkdtemp(prefix="deskpilot-sandboxes-"))
        self.work_dir.mkdir(parents=True, exist_ok=True)
        # The sandbox user must reach its own folder below this one (mkdtemp makes it 0700).
        self.work_dir.chmod(0o711)
        self.user = user
        # The executors' Python, which the sandbox user must be able to run.
        self.python = python or sandbox_python()
        self.x_server = x_server
        self.ready_timeout = ready_timeout
        self.extra_args = extra_args
        self._pool: deque[_Sandbox] = deque()
        self._running: dict[str, _Sandbox] = {}
        self._filling: asyncio.Task[None] | None = None
        self._counter = 0

    @classmethod
    def from_settings(
        cls, settings: LocalProviderSettings, default_size: tuple[int, int]
    ) -> LocalSandboxProvider:
        return cls(
            pool_size=settings.pool_size,
            default_size=default_size,
            work_dir=Path(settings.work_dir).resolve() if settings.work_dir else None,
            x_server=settings.x_server,
            user=settings.user,
            python=settings.python,
        )

    def fill_pool(self) -> None:
        """Start warm sandboxes in the background until the pool is full."""
        if self.pool_size and (self._filling is None or self._filling.done()):
            self._filling = asyncio.create_task(self._fill())

    async def wait_for_pool(self) -> None:
        """Wait until the background filling is done (for benchmarks and tests)."""
        if self._filling is not None:
            await self._filling

    async def acquire(
        self, session_id: str, display: common_pb2.Size, template: str
    ) -> session_pb2.ProvisionedSandbox:
        if template not in ("", "default"):
            raise InvalidArgument(
                f"the local provider has only the default template, not {template!r}"
            )
        size = (display.width, display.height) if display.width else self.default_size
        sandbox = self._take_warm(size) or await self._start(size)
        self._running[sandbox.endpoints.sandbox_id] = sandbox
        self.fill_pool()
        log.info("session %s runs in sandbox %s", session_id, sandbox.endpoints.sandbox_id)
        return session_pb2.ProvisionedSandbox(endpoints=sandbox.endpoints, secrets=sandbox.secrets)

    async def release(self, endpoints: session_pb2.SandboxEndpoints) -> None:
        sandbox = self._running.pop(endpoints.sandbox_id, None)
        if sandbox is not None:
            await sandbox.process.stop(_STOP_GRACE_SECONDS)
        else:
            # Started by a replica that died: this one took the session over, so it stops
            # the sandbox too (else it would run on with nobody to stop it).
            await _stop_adopted(endpoints.sandbox_id)

    async def wait_gone(self, endpoints: session_pb2.SandboxEndpoints) -> str | None:
        name = endpoints.sandbox_id
        sandbox = self._running.get(name)
        if sandbox is not None:
            code = await sandbox.process.exited()
            return f"sandbox {name} {_exit_reason(code, sandbox.log_path)}"
        # Started by a replica that died and adopted here: watch its pid.
        adopted = _adopt(name)
        if adopted is None:
            return f"sandbox {name} is not running"
        try:
            await adopted.exited()
        finally:
            adopted.close()
        return f"sandbox {name} stopped"

    async def close(self) -> None:
        if self._filling is not None:
            self._filling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._filling
        everything = [*self._pool, *self._running.values()]
        self._pool.clear()
        self._running.clear()
        await asyncio.gather(*(s.process.stop(_STOP_GRACE_SECONDS) for s in everything))
        if self._own_work_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)

    def _take_warm(self, size: tuple[int, int]) -> _Sandbox | None:
        for sandbox in list(self._pool):
            self._pool.remove(sandbox)
            if sandbox.process.running and sandbox.size == size:
                return sandbox
            if sandbox.process.running:
                self._pool.append(sandbox)  # alive, other size: keep it for later
        return None

    async def _fill(self) -> None:
        while len(self._pool) < self.pool_size:
            try:
                self._pool.append(await self._start(self.default_size))
            except Unavailable:
                log.warning("could not start a warm sandbox", exc_info=True)
                return

    async def _start(self, size: tuple[int, int]) -> _Sandbox:
        self._counter += 1
        name = f"local-{self._counter}"
        folder = self.work_dir / name
        folder.mkdir(parents=True, exist_ok=True)
        log_path = folder / "sandbox.log"
        log_path.unlink(missing_ok=True)  # the toolkit appends; one log per sandbox start
        credential = new_credential()
        # Beside the sandbox's folder, not in it (that one becomes the sandbox user's), and
        # readable by this user only; the sandbox reads and deletes it before it starts
        # anything as its user.
        credential_file = self.work_dir / f"{name}.credential"
        credential_file.unlink(missing_ok=True)  # left by a start that failed
        write_credential_file(credential_file, credential)
        try:
            process, report = await self._run_sandbox(name, size, folder, credential_file)
        finally:
            credential_file.unlink(missing_ok=True)  # when the sandbox did not get to it
        report.endpoints.sandbox_id = f"{name}-{process.pid}"
        report.secrets.executor_credential = credential
        return _Sandbox(process, report.endpoints, report.secrets, size, log_path)

    async def _run_sandbox(
        self, name: str, size: tuple[int, int], folder: Path, credential_file: Path
    ) -> tuple[AsyncChild, session_pb2.SandboxReady]:
        """Start one sandbox process and wait for its ready report."""
        log_path = folder / "sandbox.log"
        process = await spawn_async(
            "the sandbox process",
            [sys.executable, "-m", "deskpilot.sandbox",
             "--width", str(size[0]), "--height", str(size[1]),
             "--x-server", self.x_server, "--workdir", str(folder), "--log-format", "json",
             "--user", self.user, "--executor-python", self.python,
             "--credential-file", str(credential_file), *self.extra_args],
            stdout=PIPE, log_path=log_path, env=_sandbox_process_env(),
        )  # fmt: skip
        try:
            report = await until_ready(
                process, ready_line(process, parse_ready_line), timeout=self.ready_timeout
            )
        except NotReady as exc:
            await process.stop(_STOP_GRACE_SECONDS)
            raise Unavailable(f"sandbox {name} did not start: {exc}") from None
        except asyncio.CancelledError:  # e.g. close() while the pool was filling
            await asyncio.shield(process.stop(_STOP_GRACE_SECONDS))
            raise
        return process, report


def _sandbox_process_env() -> dict[str, str]:
    """The sandbox process's environment: an allow-list, never the orchestrator's own,
    which holds the API key and every other secret of this service."""
    env = allowed_environment()
    env["PATH"] = os.environ.get("PATH", SYSTEM_PATH)  # where its X and VNC servers are
    for name in ("HOME", "DESKPILOT_LOG_LEVEL"):
        if name in os.environ:
            env[name] = os.environ[name]
    return env


def _exit_reason(code: int, log_path: Path) -> str:
    """Why a sandbox process ended, for people: its signal, or its last error line."""
    if code < 0:
        return exit_description(code)
    try:
        lines = log_path.read_text(errors="replace").splitlines()
    except OSError:
        lines = []
    for line in reversed(lines):
        with contextlib.suppress(ValueError, AttributeError):
            entry = json.loads(line)
            if entry.get("level") in ("ERROR", "CRITICAL"):
                return f"stopped: {entry.get('message')}"
    return f"exited with code {code}"


async def _stop_adopted(sandbox_id: str) -> None:
    """Stop a local sandbox another provider started, found by the pid in its id, if that
    pid still is a sandbox process. A pidfd makes sure no later owner of the pid gets the
    signal."""
    adopted = _adopt(sandbox_id)
    if adopted is None:
        return
    try:
        await adopted.stop(_STOP_GRACE_SECONDS)
        log.info("stopped sandbox %s, started by another replica", sandbox_id)
    finally:
        adopted.close()


def _adopt(sandbox_id: str) -> AdoptedProcess | None:
    """The sandbox process named by `sandbox_id` (local-N-<pid>); None if it is gone or
    the pid now belongs to another program."""
    name, _, pid_text = sandbox_id.rpartition("-")
    if not name.startswith("local-") or not pid_text.isdigit():
        log.warning("cannot stop sandbox %r: not a local sandbox id", sandbox_id)
        return None
    return adopt(int(pid_text), f"sandbox {sandbox_id}", with_argument=b"deskpilot.sandbox")
