"""Run a local `nats-server` with JetStream as a child process.

Used by the local-stack supervisor (`deskpilot up`) and by the integration tests. The server
binds to loopback by default, keeps its JetStream data in `store_dir` (so a restart on the same
store keeps every stream), and writes its log next to the store. With `port=0` the server picks
a free port itself and reports it through a ports file, so several servers can run side by side
without racing for a probed port; `restart()` then reuses the port it got the first time, so
clients reconnect to the same URL. Like every child process it runs in its own session
(`deskpilot.common.processes`): a terminal's Ctrl-C reaches the process that started it, which
decides when it stops.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from deskpilot.common.processes import PopenChild, ServerProcess, spawn
from deskpilot.common.readiness import polled, until_ready, wait_until

# Debian installs the binary in /usr/sbin, which is not on a normal user's PATH.
_FALLBACK_BINARIES = ("/usr/sbin/nats-server", "/usr/local/bin/nats-server", "/usr/bin/nats-server")
_FAILED_START_GRACE_SECONDS = 2.0
_SECRET_FLAGS = frozenset({"--pass", "--auth"})


def find_nats_server(binary: str | os.PathLike[str] | None = None) -> str:
    """Return the path of the `nats-server` executable to run.

    Order: the explicit `binary`, `$DESKPILOT_NATS_SERVER`, `nats-server` on PATH, then the usual
    install locations. Raises FileNotFoundError naming everything that was tried.
    """
    if binary is not None:
        path = Path(binary)
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
        raise FileNotFoundError(
            f"nats-server binary {str(path)!r} does not exist or is not executable"
        )
    candidates: list[str] = []
    env = os.environ.get("DESKPILOT_NATS_SERVER")
    if env:
        candidates.append(env)
    on_path = shutil.which("nats-server")
    if on_path:
        candidates.append(on_path)
    candidates.extend(_FALLBACK_BINARIES)
    for candidate in candidates:
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise FileNotFoundError(
        "nats-server not found (tried $DESKPILOT_NATS_SERVER, PATH and "
        f"{', '.join(_FALLBACK_BINARIES)}); install it, e.g. `apt-get install nats-server`"
    )


class NatsServer(ServerProcess):
    """A `nats-server -js` child process bound to `host`.

    `port=0` lets the server choose a free port on the first start; the chosen port is kept
    for later starts. `monitor_port=None` (the default) disables HTTP monitoring; `0` lets the
    server choose one. The log (server stdout and stderr, appended across restarts) goes to
    `log_path`, by default `<store_dir>.log` next to the store directory.
    `max_file_store` (bytes) limits the JetStream file storage, as an operator would; None
    leaves the server's default (a share of the disk). `die_with_parent` is the signal the
    kernel sends the server when the process that started it ends (see
    `deskpilot.common.processes`); the server must then be started on the main thread.
    `authorization` is the config's `authorization` block (users and their permissions,
    see `deskpilot.bus.identities`); with users in it the server refuses anonymous clients.
    """

    def __init__(
        self,
        store_dir: Path,
        port: int = 0,
        host: str = "127.0.0.1",
        *,
        log_path: Path | None = None,
        monitor_port: int | None = None,
        binary: str | os.PathLike[str] | None = None,
        extra_args: list[str] | None = None,
        max_file_store: int | None = None,
        die_with_parent: signal.Signals | None = None,
        authorization: Mapping[str, Any] | None = None,
    ) -> None:
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be in 0..65535, got {port}")
        if monitor_port is not None and not 0 <= monitor_port <= 65535:
            raise ValueError(f"monitor_port must be in 0..65535 or None, got {monitor_port}")
        self.store_dir = Path(store_dir).resolve()
        self.host = host
        self.log_path = (
            Path(log_path)
            if log_path is not None
            else self.store_dir.with_name(f"{self.store_dir.name}.log")
        )
        self._requested_port = port
        self._requested_monitor_port = monitor_port
        self._binary = binary
        self._extra_args = list(extra_args or [])
        if max_file_store is not None and max_file_store < 1:
            raise ValueError(f"max_file_store must be positive bytes or None, got {max_file_store}")
        self._max_file_store = max_file_store
        self._die_with_parent = die_with_parent
        self._authorization = dict(authorization) if authorization is not None else None
        self._port: int | None = port or None
        self._monitor_port: int | None = monitor_port or None
        self._child: PopenChild | None = None
        self._ports_dir: tempfile.TemporaryDirectory[str] | None = None
        self._ports: dict[str, list[str]] | None = None

    # -- properties ---------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The client port; known once the server has started at least once."""
        if self._port is None:
            raise RuntimeError("the NATS server has not been started yet, so its port is unknown")
        return self._port

    @property
    def endpoint(self) -> str:
        """Where it listens, `host:port` (e.g. `127.0.0.1:4222`); known once started."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def url(self) -> str:
        """Client URL, e.g. `nats://127.0.0.1:4222`."""
        return f"nats://{self.endpoint}"

    @property
    def monitor_port(self) -> int | None:
        """The HTTP monitoring port, or None when monitoring is off."""
        return self._monitor_port

    @property
    def monitor_url(self) -> str | None:
        """Monitoring base URL, e.g. `http://127.0.0.1:8222`, or None when monitoring is off."""
        if self._monitor_port is None:
            return None
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._monitor_port}"

    @property
    def pid(self) -> int | None:
        """Process id while running, else None."""
        return self._child.pid if self.is_running and self._child is not None else None

    @property
    def is_running(self) -> bool:
        return self._child is not None and self._child.running

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> None:
        """Start the server and wait until it accepts client connections.

        Raises NotReady (a RuntimeError) with the tail of the server log if it exits or does
        not come up within `timeout` seconds (the process is then stopped).
        """
        child = self._spawn()
        try:
            wait_until(child, self._accepts_clients, timeout=timeout, waiting_for=self._awaited())
        except BaseException:
            self._terminate(_FAILED_START_GRACE_SECONDS)
            raise

    async def start_async(self, timeout: float = 10.0) -> None:
        """`start()` for an event loop: the wait does not block it."""
        child = self._spawn()
        try:
            await until_ready(
                child, polled(self._accepts_clients), timeout=timeout, waiting_for=self._awaited()
            )
        except BaseException:
            await self.stop_async(_FAILED_START_GRACE_SECONDS)
            raise

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server: SIGTERM (JetStream flushes and shuts down cleanly), then SIGKILL if
        it has not exited within `timeout` seconds. Safe to call when not running."""
        self._terminate(grace=timeout)

    async def stop_async(self, timeout: float = 10.0) -> None:
        """`stop()` for an event loop."""
        try:
            if self._child is not None:
                await self._child.stop(timeout)
        finally:
            self._forget()

    async def exited(self) -> int:
        """Until the running server ends; its exit code."""
        assert self._child is not None, "the NATS server has not been started"
        return await self._child.exited()

    def restart(self, timeout: float = 10.0) -> None:
        """Stop and start again on the same port and store directory (JetStream data survives)."""
        self.stop(timeout=timeout)
        self.start(timeout=timeout)

    def __repr__(self) -> str:
        port = self._port if self._port is not None else "?"
        return f"NatsServer({self.host}:{port}, store_dir={str(self.store_dir)!r}, pid={self.pid})"

    # -- internals ----------------------------------------------------------------------------

    def _spawn(self) -> PopenChild:
        if self.is_running:
            raise RuntimeError(f"nats-server is already running (pid {self.pid})")
        binary = find_nats_server(self._binary)
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._ports_dir = tempfile.TemporaryDirectory(prefix="deskpilot-nats-ports-")
        self._ports = None
        args = self._args(binary, self._ports_dir.name)
        with self.log_path.open("ab") as log:
            log.write(f"==== starting: {' '.join(_redact_args(args))}\n".encode())
        self._child = spawn(
            "nats-server", args, log_path=self.log_path, die_with_parent=self._die_with_parent
        )
        return self._child

    def _args(self, binary: str, ports_dir: str) -> list[str]:
        # -1 asks the server for a random free port; after the first start we pin the port it
        # got so clients can reconnect to the same URL after a restart.
        port_arg = str(self._port) if self._port is not None else "-1"
        args = [
            binary,
            "--addr",
            self.host,
            "--port",
            port_arg,
            "--jetstream",
            "--store_dir",
            str(self.store_dir),
            "--ports_file_dir",
            ports_dir,
        ]
        config = self._config()
        if config:
            # Storage limits and users exist only in a config file; the flags above still
            # apply. The config names public keys only, but is private all the same.
            path = self.store_dir.with_name(f"{self.store_dir.name}.conf")
            path.unlink(missing_ok=True)
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as out:
                json.dump(config, out, indent=2)  # nats-server reads JSON as its format
            args += ["--config", str(path)]
        if self._requested_monitor_port is not None:
            monitor_arg = str(self._monitor_port) if self._monitor_port is not None else "-1"
            args += ["--http_port", monitor_arg]
        return args + self._extra_args

    def _config(self) -> dict[str, Any]:
        config: dict[str, Any] = {}
        if self._max_file_store is not None:
            config["jetstream"] = {"max_file_store": self._max_file_store}
        if self._authorization is not None:
            config["authorization"] = self._authorization
        return config

    def _accepts_clients(self) -> bool:
        """Whether the server has written its ports file and greets on its client port."""
        assert self._child is not None
        if self._ports is None:
            self._ports = self._read_ports_file(self._child.pid)
            if self._ports is not None:
                self._port = _port_of(self._ports.get("nats", []))
                if self._requested_monitor_port is not None:
                    self._monitor_port = _port_of(self._ports.get("monitoring", []))
        # The ports file is written once the listeners are up; the INFO probe confirms the
        # server really talks the client protocol on that port.
        return (
            self._ports is not None
            and self._port is not None
            and greets_like_nats(self.host, self._port)
        )

    def _awaited(self) -> str:
        port = self._port if self._port is not None else "the port it picks"
        return f"waited for client connections on {self.host}, {port}"

    def _read_ports_file(self, pid: int) -> dict[str, list[str]] | None:
        assert self._ports_dir is not None
        # The server names the file `<executable name>_<pid>.ports`.
        for candidate in Path(self._ports_dir.name).glob(f"*_{pid}.ports"):
            try:
                data = json.loads(candidate.read_text())
            except (OSError, ValueError):
                return None  # partially written; try again on the next poll
            if isinstance(data, dict):
                return data
        return None

    def _terminate(self, grace: float) -> None:
        try:
            if self._child is not None:
                self._child.stop_blocking(grace)
        finally:
            self._forget()

    def _forget(self) -> None:
        self._child = None
        if self._ports_dir is not None:
            self._ports_dir.cleanup()
            self._ports_dir = None


def _redact_args(args: list[str]) -> list[str]:
    """`args` with the values of secret-bearing flags (passwords, tokens) replaced."""
    out: list[str] = []
    for i, arg in enumerate(args):
        secret = i > 0 and args[i - 1] in _SECRET_FLAGS
        out.append("***" if secret else arg)
    return out


def _port_of(urls: list[str]) -> int | None:
    """Port of the first URL in a ports-file list such as `["nats://127.0.0.1:4222"]`."""
    for url in urls:
        _, _, port = url.rpartition(":")
        if port.isdigit():
            return int(port)
    return None


def greets_like_nats(host: str, port: int) -> bool:
    """True if something on host:port greets like a NATS server (`INFO {...}`)."""
    try:
        with socket.create_connection((host, port), timeout=0.5) as sock:
            sock.settimeout(0.5)
            return sock.recv(5) == b"INFO "
    except OSError:
        return False
