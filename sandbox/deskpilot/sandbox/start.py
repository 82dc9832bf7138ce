"""The sandbox start script: one session's desktop, from X server to executors.

Brings up, in order: the X server with its VNC server (display number chosen by the
server, VNC on a given or free port, per-session password), the window manager and panel
(launchers for a terminal, a browser, an editor and a file manager), then the display and
shell executors. It reports ready — a `SandboxReady` (session.proto) as one line of
proto3 JSON on stdout, and the same in the `--ready-file` — only when the X server, the
VNC port and both executors' gRPC health checks answer.

It never runs as root: started as root, it runs everything as an unprivileged user (created
if missing) with its own home, the executors with a Python that user can run
(`--executor-python`), and refuses to start when that user cannot run it.
On SIGTERM/SIGINT, or when the X server or an executor dies, it stops every process it
started (each in its own process group, so apps launched from the panel go too). When the
sandbox process itself is killed (SIGKILL), the kernel kills the processes it started
(`deskpilot.common.processes`, `die_with_parent`).

Several sandboxes run side by side: display numbers, ports, homes and runtime folders are
all per sandbox. The same script is the container entrypoint and what the local sandbox
provider runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import os
import pwd
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from deskpilot.common.config import settings_or_exit
from deskpilot.common.environment import SYSTEM_PATH, allowed_environment
from deskpilot.common.grpc_client import wait_until_serving
from deskpilot.common.logs import configure_logging
from deskpilot.common.net import free_port
from deskpilot.common.processes import PopenChild, spawn
from deskpilot.common.readiness import NotReady, until_ready
from deskpilot.common.sandbox_credential import (
    CredentialError,
    credential_pipe,
    keep_out_of_reach,
    new_credential,
    read_credential_file,
    readable_by_others,
)
from deskpilot.common.sandbox_ready import ready_line
from deskpilot.common.sandbox_user import EXECUTOR_MODULES, SandboxUserError, missing_modules
from deskpilot.common.signals import stop_event
from deskpilot.sandbox.desktop import desktop_commands, find_launchers, write_panel_config
from deskpilot.sandbox.session_bus import session_bus_command, session_bus_env
from deskpilot.sandbox.settings import SandboxSettings
from deskpilot.sandbox.users import DesktopUser, desktop_user
from deskpilot.sandbox.xserver import XServer, XServerConfig
from deskpilot.v1 import common_pb2, session_pb2

log = logging.getLogger("deskpilot.sandbox")

_CHECK_INTERVAL_SECONDS = 0.25
_STOP_GRACE_SECONDS = 5.0


class SandboxError(RuntimeError):
    """The sandbox could not start."""


class Sandbox:
    """Start with `await start()`, stop with `await stop()`; `wait()` watches the children."""

    def __init__(self, settings: SandboxSettings) -> None:
        self.settings = settings
        self.xserver: XServer | None = None
        self.children: list[PopenChild] = []
        self.critical: list[PopenChild] = []
        self.report: session_pb2.SandboxReady | None = None
        self._own_workdir = False
        self.workdir = Path(settings.workdir) if settings.workdir else None

    # --- start ---------------------------------------------------------------------

    async def start(self) -> session_pb2.SandboxReady:
        started = time.monotonic()
        try:
            report = await self._start()
        except BaseException:
            await self.stop()
            raise
        report.start_seconds = round(time.monotonic() - started, 3)
        self.report = report
        return report

    async def _start(self) -> session_pb2.SandboxReady:
        s = self.settings
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="deskpilot-sandbox-"))
            self._own_workdir = True
        self.workdir.mkdir(parents=True, exist_ok=True)
        # A home per sandbox by default, so side-by-side sandboxes never share one.
        try:
            user = desktop_user(s.user, s.home or str(self.workdir / "home"))
        except (RuntimeError, OSError) as exc:
            raise SandboxError(f"cannot prepare the desktop user: {exc}") from None
        # First, before anything runs as the desktop user, who must never read it.
        credential, generated = self._credential(user)
        user.own(self.workdir)
        for what, path in (("home", user.home), ("workdir", self.workdir)):
            blocked = user.unreachable_parent(path)
            if blocked is not None:
                raise SandboxError(
                    f"user {user.name} cannot reach its {what} {path}: {blocked} is not "
                    "searchable by it; choose a folder the user can enter"
                )
        missing: list[str] = []

        python = s.executor_python or sys.executable
        shell_wanted = s.shell_executor
        if s.display_executor or s.shell_executor:
            absent = await asyncio.to_thread(_missing_executors, python, user)
            if s.display_executor and "deskpilot.display" in absent:
                raise SandboxError(
                    f"{python} has no display executor (package deskpilot-display) for user "
                    f"{user.name or _current_user()}"
                )
            if s.shell_executor and "deskpilot.shell" in absent:
                log.warning("shell executor not installed (package deskpilot-shell); not started")
                missing.append("shell executor")
                shell_wanted = False

        base_env = self._base_env(user)
        self.xserver = XServer(
            XServerConfig(
                mode=s.x_server,
                width=s.width,
                height=s.height,
                depth=s.depth,
                vnc_host=s.vnc_host,
                vnc_port=s.vnc_port,
                vnc_password=s.vnc_password or None,
                display_number=None if s.display_number < 0 else s.display_number,
            ),
            workdir=self.workdir / "x",
            user=user.name,
            die_with_parent=True,
            base_env=base_env,
        )
        # On this (the main) thread, not a worker: the servers' parent-death signal is tied
        # to the thread that starts them. Nothing else runs in the sandbox meanwhile.
        self.xserver.start()
        log.info(
            "X display %s (%s) with VNC on %s:%d",
            self.xserver.display, s.x_server, s.vnc_host, self.xserver.vnc_port,
        )  # fmt: skip
        env = self.xserver.env(base_env)
        if s.accessibility:
            bus_env = await self._start_session_bus(env, user)
            if bus_env is None:
                missing.append("accessibility bus")
            env.update(bus_env or {})

        if s.desktop:
            launchers, absent = find_launchers()
            missing += absent
            panel_config = self.workdir / "tint2rc"
            write_panel_config(panel_config, launchers)
            user.own(panel_config)
            for name, argv in desktop_commands(panel_config):
                self._spawn(name, argv, env, user)

        waits = []
        display_address = shell_address = None
        if s.display_executor:
            port = s.display_port or free_port(s.executor_host)
            display_address = f"{_dial_host(s.executor_host)}:{port}"
            child = self._spawn_executor(
                "display-executor",
                [python, "-m", "deskpilot.display", "--display", self.xserver.display,
                 "--host", s.executor_host, "--port", str(port), *self._log_flags()],
                env, user, credential,
            )  # fmt: skip
            waits.append(self._wait_healthy(child, display_address, "deskpilot.v1.Display"))
        if shell_wanted:
            port = s.shell_port or free_port(s.executor_host)
            shell_address = f"{_dial_host(s.executor_host)}:{port}"
            child = self._spawn_executor(
                "shell-executor",
                [python, "-m", "deskpilot.shell",
                 "--host", s.executor_host, "--port", str(port), *self._log_flags()],
                env, user, credential,
            )  # fmt: skip
            waits.append(self._wait_healthy(child, shell_address, "deskpilot.v1.Shell"))
        await asyncio.gather(*waits)
        for kind in missing:
            log.warning("%s is missing from this sandbox", kind)
        return session_pb2.SandboxReady(
            endpoints=session_pb2.SandboxEndpoints(
                display_address=display_address or "",
                shell_address=shell_address or "",
                vnc_address=f"{_dial_host(s.vnc_host)}:{self.xserver.vnc_port}",
            ),
            # Only a generated password is reported: one given in the settings (a Secret
            # in Kubernetes) is known to the caller and must not reach the logs.
            secrets=session_pb2.SandboxSecrets(
                vnc_password="" if s.vnc_password else self.xserver.vnc_password,
                executor_credential=credential if generated else "",
            ),
            display=self.xserver.display,
            x_server=s.x_server,
            screen=common_pb2.Size(width=s.width, height=s.height),
            user=user.name or _current_user(),
            home=str(user.home),
            pid=os.getpid(),
            missing=missing,
        )

    async def _start_session_bus(
        self, env: dict[str, str], user: DesktopUser
    ) -> dict[str, str] | None:
        """The desktop's session bus (session_bus.py): the variables that name it, or None
        when dbus-daemon is not installed."""
        assert self.workdir is not None
        socket = self.workdir / "bus"
        argv = session_bus_command(socket)
        if argv is None:
            log.warning("dbus-daemon is not installed: no accessibility tree for the gate")
            return None
        child = self._spawn("session-bus", argv, env, user)
        for _ in range(200):
            if socket.exists():
                return session_bus_env(socket)
            if not child.running:
                break
            await asyncio.sleep(0.025)
        log_path = self.workdir / "logs" / "session-bus.log"
        raise SandboxError(f"the session bus did not start (see {log_path})")

    def _credential(self, user: DesktopUser) -> tuple[str, bool]:
        """The executors' credential, and whether it was generated here (then the ready
        report carries it). A given file is read and removed; one that would stay
        readable by the desktop user stops the sandbox."""
        path = self.settings.credential_file
        if not path:
            credential, generated = new_credential(), True
        else:
            try:
                credential = read_credential_file(Path(path), remove=False)
            except CredentialError as exc:
                raise SandboxError(str(exc)) from None
            _remove_credential_file(Path(path), user)
            generated = False
        # This process holds it from now on: out of reach of the desktop user's processes
        # (which, without root, run as the same user).
        keep_out_of_reach()
        return credential, generated

    def _base_env(self, user: DesktopUser) -> dict[str, str]:
        """What every process of the sandbox starts with: an allow-list (language, time
        zone, terminal) and what the desktop user needs, never this process's environment,
        which holds whatever its starter had (API keys, service credentials)."""
        assert self.workdir is not None
        runtime = self.workdir / "runtime"
        runtime.mkdir(mode=0o700, exist_ok=True)
        user.own(runtime)
        name = user.name or _current_user()
        env = allowed_environment()
        env.update(
            # A user of its own sees the system's PATH; otherwise the user's own.
            PATH=SYSTEM_PATH if user.switches else os.environ.get("PATH", SYSTEM_PATH),
            HOME=str(user.home),
            USER=name,
            LOGNAME=name,
            SHELL="/bin/bash",
            LANG=env.get("LANG") or "C.UTF-8",
            XDG_RUNTIME_DIR=str(runtime),
        )
        return env

    def _log_flags(self) -> list[str]:
        # Flags, not variables: the shell executor's bash inherits its environment.
        s = self.settings
        return ["--log-level", s.log_level, "--log-format", s.log_format]

    def _spawn_executor(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str],
        user: DesktopUser,
        credential: str,
    ) -> PopenChild:
        """An executor, handed the credential through a pipe it inherits (never argv or
        the environment, which other processes of its user can read)."""
        fd = credential_pipe(credential)
        try:
            argv = [*argv, "--credential-fd", str(fd)]
            return self._spawn(name, argv, env, user, critical=True, pass_fds=(fd,))
        finally:
            os.close(fd)

    def _spawn(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str],
        user: DesktopUser,
        *,
        critical: bool = False,
        pass_fds: tuple[int, ...] = (),
    ) -> PopenChild:
        assert self.workdir is not None
        # From the main thread: the parent-death signal is tied to the starting thread.
        child = spawn(
            name, argv, env=env, cwd=user.home, log_path=self.workdir / "logs" / f"{name}.log",
            pass_fds=pass_fds, die_with_parent=signal.SIGKILL,
            **user.popen_kwargs(),  # type: ignore[arg-type]
        )  # fmt: skip
        self.children.append(child)
        if critical:
            self.critical.append(child)
        log.info("started %s (pid %d)", name, child.pid)
        return child

    async def _wait_healthy(self, child: PopenChild, address: str, service: str) -> None:
        """Wait for SERVING, failing fast (with its log) if the process exits first."""
        timeout = self.settings.ready_timeout_seconds
        serving = wait_until_serving(address, service=service, timeout=timeout)
        try:
            await until_ready(child, serving, timeout=timeout)
        except NotReady as exc:
            raise SandboxError(str(exc)) from None

    # --- run and stop --------------------------------------------------------------

    async def wait(self, stop: asyncio.Event) -> int:
        """Until `stop` is set (0) or the X server or an executor dies (1)."""
        while not stop.is_set():
            dead = [c for c in self.critical if not c.running]
            x_dead = self.xserver is not None and not self.xserver.running
            if dead or x_dead:
                what = ", ".join(c.name for c in dead) or "X server"
                log.error("%s stopped unexpectedly; stopping the sandbox", what)
                return 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), _CHECK_INTERVAL_SECONDS)
        return 0

    async def stop(self) -> None:
        """Stop every process this sandbox started, newest first, then the X server."""
        for child in reversed(self.children):
            await child.stop(_STOP_GRACE_SECONDS)
        self.children.clear()
        self.critical.clear()
        if self.xserver is not None:
            await asyncio.to_thread(self.xserver.stop)
        if self._own_workdir and self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)


def _remove_credential_file(path: Path, user: DesktopUser) -> None:
    """Delete the credential file; where that is impossible (a read-only mount), go on
    only if the desktop user cannot read it."""
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        if readable_by_others(path, user.uid, user.gid):
            raise SandboxError(
                f"the credential file {path} cannot be removed ({exc.strerror}) and user "
                f"{user.name or _current_user()} could read it: make it readable by root only, "
                "or put it where this process may delete it"
            ) from None
        log.info("credential file %s stays (%s); the desktop user cannot read it", path, exc)


def _missing_executors(python: str, user: DesktopUser) -> list[str]:
    """The executor packages `python` lacks when the desktop user runs it; SandboxError
    when that user cannot run it at all (never a reason to run as root instead)."""
    if not user.switches and python == sys.executable:
        return [m for m in EXECUTOR_MODULES if importlib.util.find_spec(m) is None]
    entry = pwd.getpwuid(user.uid) if user.switches else None
    try:
        return missing_modules(python, entry, EXECUTOR_MODULES)
    except SandboxUserError as exc:
        raise SandboxError(
            f"{exc}; give --executor-python a Python it can run with deskpilot-display and "
            "deskpilot-shell installed (`make sandbox-venv` builds one from /usr/bin/python3)"
        ) from None


def _dial_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "", "::") else host


def _current_user() -> str:
    return pwd.getpwuid(os.getuid()).pw_name


def _write_ready_file(path: Path, report: session_pb2.SandboxReady) -> None:
    """The ready report in `path` (mode 0600). Not run as root, this process's user is the
    desktop user, who could read the file: a generated credential then goes to stdout
    only."""
    if os.geteuid() != 0 and report.secrets.executor_credential:
        report = session_pb2.SandboxReady.FromString(report.SerializeToString())
        report.secrets.executor_credential = ""
        log.info("the ready file leaves out the executor credential (see stdout)")
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.unlink(missing_ok=True)
    temporary.touch(mode=0o600)
    temporary.write_text(ready_line(report) + "\n")
    temporary.replace(path)  # readers never see a half-written file


async def run(settings: SandboxSettings) -> int:
    """Start the sandbox, report ready, run until stopped; the process exit code."""
    stop = stop_event()
    sandbox = Sandbox(settings)
    try:
        report = await sandbox.start()
    except SandboxError as exc:
        log.error("sandbox did not start: %s", exc)
        return 1
    if settings.ready_file:
        _write_ready_file(Path(settings.ready_file), report)
    print(ready_line(report), flush=True)
    log.info("sandbox ready in %.2f s", report.start_seconds)
    try:
        return await sandbox.wait(stop)
    finally:
        await sandbox.stop()
        if settings.ready_file:
            await asyncio.to_thread(Path(settings.ready_file).unlink, missing_ok=True)
        log.info("sandbox stopped")


def main() -> None:
    settings = settings_or_exit(SandboxSettings)
    configure_logging(settings)
    raise SystemExit(asyncio.run(run(settings)))
