"""Run a local `nats-server` with JetStream as a child process.

Used by the local-stack supervisor (`deskpilot up`) and by the integration tests. The server
binds to loopback by default, keeps its JetStream data in `store_dir` (so a restart on the same
store keeps every stream), and writes its log next to the store. With `port=0` the server picks
a free port itself and reports it through a ports file, so several servers can run side by side
without racing for a probed port; `restart()` then reuses the port it got the first time, so
clients reconnect to the same URL.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Self

# Debian installs the binary in /usr/sbin, which is not on a normal user's PATH.
_FALLBACK_BINARIES = ("/usr/sbin/nats-server", "/usr/local/bin/nats-server", "/usr/bin/nats-server")
_LOG_TAIL_LINES = 40
_LOG_TAIL_BYTES = 64 * 1024
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


class NatsServer:
    """A `nats-server -js` child process bound to `host`.

    `port=0` lets the server choose a free port on the first start; the chosen port is kept
    for later starts. `monitor_port=None` (the default) disables HTTP monitoring; `0` lets the
    server choose one. The log (server stdout and stderr, appended across restarts) goes to
    `log_path`, by default `<store_dir>.log` next to the store directory.
    `max_file_store` (bytes) limits the JetStream file storage, as an operator would; None
    leaves the server's default (a share of the disk).
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
        self._port: int | None = port or None
        self._monitor_port: int | None = monitor_port or None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None
        self._ports_dir: tempfile.TemporaryDirectory[str] | None = None

    # -- properties ---------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The client port; known once the server has started at least once."""
        if self._port is None:
            raise RuntimeError("the NATS server has not been started yet, so its port is unknown")
        return self._port

    @property
    def url(self) -> str:
        """Client URL, e.g. `nats://127.0.0.1:4222`."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"nats://{host}:{self.port}"

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
        return self._proc.pid if self.is_running and self._proc is not None else None

    @property
    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> None:
        """Start the server and wait until it accepts client connections.

        Raises RuntimeError with the tail of the server log if it exits or does not come up
        within `timeout` seconds (the process is then stopped).
        """
        if self.is_running:
            raise RuntimeError(f"nats-server is already running (pid {self.pid})")
        binary = find_nats_server(self._binary)
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._ports_dir = tempfile.TemporaryDirectory(prefix="deskpilot-nats-ports-")

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
            self._ports_dir.name,
        ]
        if self._max_file_store is not None:
            # Storage limits exist only in a config file; the flags above still apply.
            config = self.store_dir.with_name(f"{self.store_dir.name}.conf")
            config.write_text(f"jetstream {{\n  max_file_store: {self._max_file_store}\n}}\n")
            args += ["--config", str(config)]
        if self._requested_monitor_port is not None:
            monitor_arg = str(self._monitor_port) if self._monitor_port is not None else "-1"
            args += ["--http_port", monitor_arg]
        args += self._extra_args

        self._log_file = open(self.log_path, "ab")  # noqa: SIM115 - kept open for the child's lifetime
        self._log_file.write(f"==== starting: {' '.join(_redact_args(args))}\n".encode())
        self._log_file.flush()
        self._proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            close_fds=True,
        )
        try:
            self._wait_ready(timeout)
        except BaseException:
            self._terminate(grace=2.0)
            raise

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server: SIGTERM (JetStream flushes and shuts down cleanly), then SIGKILL if
        it has not exited within `timeout` seconds. Safe to call when not running."""
        self._terminate(grace=timeout)

    def restart(self, timeout: float = 10.0) -> None:
        """Stop and start again on the same port and store directory (JetStream data survives)."""
        self.stop(timeout=timeout)
        self.start(timeout=timeout)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        port = self._port if self._port is not None else "?"
        return f"NatsServer({self.host}:{port}, store_dir={str(self.store_dir)!r}, pid={self.pid})"

    # -- internals ----------------------------------------------------------------------------

    def _wait_ready(self, timeout: float) -> None:
        assert self._proc is not None and self._ports_dir is not None
        deadline = time.monotonic() + timeout
        ports: dict[str, list[str]] | None = None
        while True:
            code = self._proc.poll()
            if code is not None:
                raise RuntimeError(
                    f"nats-server exited with code {code} during startup "
                    f"(store {self.store_dir}); log tail from {self.log_path}:\n{self.log_tail()}"
                )
            if ports is None:
                ports = self._read_ports_file(self._proc.pid)
                if ports is not None:
                    self._port = _port_of(ports.get("nats", []))
                    if self._requested_monitor_port is not None:
                        self._monitor_port = _port_of(ports.get("monitoring", []))
            # The ports file is written once the listeners are up; the INFO probe confirms the
            # server really talks the client protocol on that port.
            if ports is not None and self._port is not None and _probe_info(self.host, self._port):
                return
            if time.monotonic() >= deadline:
                where = f"port {self._port}" if self._port is not None else "its ports file"
                raise RuntimeError(
                    f"nats-server (pid {self._proc.pid}) did not accept client connections on "
                    f"{self.host} within {timeout:g}s (waited for {where}); log tail from "
                    f"{self.log_path}:\n{self.log_tail()}"
                )
            time.sleep(0.02)

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
        proc = self._proc
        try:
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=grace)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)
        finally:
            self._proc = None
            if self._log_file is not None:
                self._log_file.close()
                self._log_file = None
            if self._ports_dir is not None:
                self._ports_dir.cleanup()
                self._ports_dir = None

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        """The last `lines` lines of the server log (empty if there is none yet)."""
        try:
            with open(self.log_path, "rb") as f:
                # Read only the end: the log is appended to across restarts and may be large.
                size = f.seek(0, os.SEEK_END)
                f.seek(max(0, size - _LOG_TAIL_BYTES))
                data = f.read()
        except OSError:
            return ""
        tail = data.decode(errors="replace").splitlines()[-lines:]
        return "\n".join(tail)


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


def _probe_info(host: str, port: int) -> bool:
    """True if something on host:port greets like a NATS server (`INFO {...}`)."""
    try:
        with socket.create_connection((host, port), timeout=0.5) as sock:
            sock.settimeout(0.5)
            return sock.recv(5) == b"INFO "
    except OSError:
        return False
