"""Launch an X server with a VNC server in front of it, as child processes.

Two modes, same result (an X display plus an RFB port on a loopback/private address):

- ``xvnc``: TigerVNC's ``Xvnc``, one process that is both the X server and the VNC server.
- ``xvfb``: ``Xvfb`` for the display and ``x11vnc`` serving it over RFB.

Several servers run side by side without clashing: the X server picks a free display number
itself and reports it through ``-displayfd``; the VNC port is either given or a free one
(retried if another process takes it first). Each server gets its own MIT-MAGIC-COOKIE
(``XAUTHORITY`` file) so other local users cannot connect to the display, and a per-session
VNC password stored in the classic ``vncpasswd`` format. ``stop()`` ends every process it
started (``deskpilot.common.processes``: each in its own session, SIGTERM then SIGKILL).
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import select
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Self

from deskpilot.common.net import free_port
from deskpilot.common.processes import PopenChild, ServerProcess, spawn
from deskpilot.common.readiness import NotReady, wait_until

XServerMode = Literal["xvnc", "xvfb"]
MODES: tuple[XServerMode, ...] = ("xvnc", "xvfb")

# VNC authentication uses only the first 8 characters of a password.
VNC_PASSWORD_LENGTH = 8
_START_TIMEOUT_SECONDS = 15.0
_STOP_TIMEOUT_SECONDS = 3.0
_PORT_ATTEMPTS = 4


class XServerError(RuntimeError):
    """The X server or the VNC server did not come up."""


@dataclass
class XServerConfig:
    """What to start: mode, geometry and where VNC listens."""

    mode: XServerMode = "xvnc"
    width: int = 1280
    height: int = 800
    depth: int = 24
    # The one address the VNC server listens on (IPv4 or IPv6); loopback unless the
    # sandbox must be reachable.
    vnc_host: str = "127.0.0.1"
    # 0 picks a free port.
    vnc_port: int = 0
    # None generates a random per-session password.
    vnc_password: str | None = None
    desktop_name: str = "deskpilot"
    # None lets the X server pick a free display number (recommended side by side).
    display_number: int | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown X server mode {self.mode!r}; use one of {MODES}")
        if not (64 <= self.width <= 8192 and 64 <= self.height <= 8192):
            raise ValueError(f"geometry {self.width}x{self.height} outside 64..8192")
        if self.depth not in (16, 24, 32):
            raise ValueError(f"depth {self.depth} not supported; use 16, 24 or 32")
        try:
            ipaddress.ip_address(self.vnc_host)
        except ValueError:
            raise ValueError(f"vnc_host {self.vnc_host!r} is not an IP address") from None
        if not 0 <= self.vnc_port <= 65535:
            raise ValueError(f"vnc_port {self.vnc_port} outside 0..65535")
        if self.display_number is not None and not 0 <= self.display_number <= 65535:
            raise ValueError(f"display_number {self.display_number} outside 0..65535")


@dataclass
class XServer(ServerProcess):
    """A running (or not yet started) X display with VNC; use as a context manager.

    After `start()`: `display` (":N"), `vnc_host`, `vnc_port`, `vnc_password`, `width`,
    `height`, `depth`, `xauthority` (cookie file for clients) and `env()` for child processes.
    """

    config: XServerConfig = field(default_factory=XServerConfig)
    # Folder for the cookie, password and log files; a temporary one when None.
    workdir: Path | None = None
    # Run the servers as this user (only when started as root).
    user: str | None = None
    # An existing Xauthority file whose cookie the server should accept (e.g. one cookie
    # shared by a test session's displays); a fresh cookie in `workdir` when None.
    xauthority: Path | None = None
    # Kill the servers when the process that started them dies, even by SIGKILL (see
    # deskpilot.common.processes); then `start()` must run on the main thread.
    die_with_parent: bool = False
    # The environment the servers start from (a sandbox's allow-listed one); None: this
    # process's own.
    base_env: Mapping[str, str] | None = None

    display: str = ""
    vnc_port: int = 0
    vnc_password: str = ""
    log_path: Path | None = None
    _processes: list[PopenChild] = field(default_factory=list, repr=False)
    _own_workdir: tempfile.TemporaryDirectory[str] | None = field(default=None, repr=False)

    @property
    def width(self) -> int:
        return self.config.width

    @property
    def height(self) -> int:
        return self.config.height

    @property
    def depth(self) -> int:
        return self.config.depth

    @property
    def mode(self) -> XServerMode:
        return self.config.mode

    @property
    def vnc_host(self) -> str:
        return self.config.vnc_host

    @property
    def running(self) -> bool:
        """True while every process this object started is alive."""
        return bool(self._processes) and all(p.running for p in self._processes)

    @property
    def pids(self) -> list[int]:
        """Process ids of the servers this object started."""
        return [p.pid for p in self._processes]

    def env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """Environment for X clients of this display (DISPLAY and XAUTHORITY set)."""
        env = dict(os.environ if base is None else base)
        env["DISPLAY"] = self.display
        if self.xauthority is not None:
            env["XAUTHORITY"] = str(self.xauthority)
        return env

    # --- lifecycle -----------------------------------------------------------------

    def start(self) -> Self:
        """Start the X server and the VNC server; return once both answer."""
        if self._processes:
            raise XServerError("already started")
        _require_binaries(self.config.mode)
        if self.workdir is None:
            self._own_workdir = tempfile.TemporaryDirectory(prefix="deskpilot-x-")
            self.workdir = Path(self._own_workdir.name)
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.xauthority is None:
            self.xauthority = self.workdir / "Xauthority"
            write_xauthority(self.xauthority, secrets.token_bytes(16))
        self.vnc_password = self.config.vnc_password or secrets.token_urlsafe(8)[:8]
        password_file = self.workdir / "vncpasswd"
        write_vnc_password(password_file, self.vnc_password)
        self.log_path = self.workdir / "xserver.log"
        if self.user is not None:
            _chown_tree(self.workdir, self.user)
        try:
            self._start_with_port_retries(password_file)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every process this object started (VNC first, then X) and remove temp files."""
        self._stop_processes()
        if self._own_workdir is not None:
            self._own_workdir.cleanup()
            self._own_workdir = None

    # --- internals -----------------------------------------------------------------

    def _start_with_port_retries(self, password_file: Path) -> None:
        attempts = 1 if self.config.vnc_port else _PORT_ATTEMPTS
        for attempt in range(attempts):
            self.vnc_port = self.config.vnc_port or free_port(self.config.vnc_host)
            try:
                self._start_once(password_file)
                return
            except XServerError:
                self._stop_processes()
                # A probed free port can be taken before the server binds it: retry.
                if attempt == attempts - 1:
                    raise

    def _start_once(self, password_file: Path) -> None:
        self.display = ""
        try:
            if self.config.mode == "xvnc":
                x_server = self._start_x(self._xvnc_args(password_file))
                self._wait_for_vnc(x_server)
            else:
                self._start_x(self._xvfb_args())
                # SIGTERM when this process dies: x11vnc then removes its shared-memory
                # segments; killed outright together with the X server, it leaves ~40
                # behind, and the machine's limit (4096) soon stops every VNC server.
                vnc = self._spawn(
                    "VNC server", self._x11vnc_args(password_file), death_signal=signal.SIGTERM
                )
                self._wait_for_vnc(vnc)
        except NotReady as exc:
            raise XServerError(str(exc)) from None

    def _spawn(
        self,
        name: str,
        args: list[str],
        pass_fds: tuple[int, ...] = (),
        death_signal: signal.Signals = signal.SIGKILL,
    ) -> PopenChild:
        child = spawn(
            name,
            args,
            log_path=self.log_path,
            env=self.env(self.base_env) if self.display else _clean_env(self.base_env),
            pass_fds=pass_fds,
            user=self.user,
            die_with_parent=death_signal if self.die_with_parent else None,
        )
        self._processes.append(child)
        return child

    def _stop_processes(self) -> None:
        for child in reversed(self._processes):
            child.stop_blocking(_STOP_TIMEOUT_SECONDS)
        self._processes.clear()

    def _start_x(self, args: list[str]) -> PopenChild:
        """Start an X server with -displayfd and read the display number it picked.

        With a configured display number the server uses that one and still reports
        through the pipe once it accepts connections.
        """
        read_fd, write_fd = os.pipe()
        number = self.config.display_number
        chosen = [f":{number}"] if number is not None else []
        try:
            args = [args[0], *chosen, "-displayfd", str(write_fd), *args[1:]]
            child = self._spawn("X server", args, pass_fds=(write_fd,))
        finally:
            os.close(write_fd)
        try:
            reported = _line_reader(read_fd)
            wait_until(
                child, lambda: reported() is not None,
                timeout=_START_TIMEOUT_SECONDS, waiting_for="no display number on -displayfd",
            )  # fmt: skip
        finally:
            os.close(read_fd)
        self.display = f":{int(reported() or b'')}"
        return child

    def _wait_for_vnc(self, child: PopenChild) -> None:
        """Poll until the VNC port sends its RFB banner."""
        address = (_dial_host(self.config.vnc_host), self.vnc_port)
        wait_until(
            child, lambda: _rfb_banner(address),
            timeout=_START_TIMEOUT_SECONDS, waiting_for=f"VNC port {self.vnc_port} did not answer",
        )  # fmt: skip

    def _xvnc_args(self, password_file: Path) -> list[str]:
        c = self.config
        return [
            "Xvnc",
            "-geometry", f"{c.width}x{c.height}",
            "-depth", str(c.depth),
            "-desktop", c.desktop_name,
            "-rfbport", str(self.vnc_port),
            "-interface", c.vnc_host,
            "-rfbauth", str(password_file),
            "-SecurityTypes", "VncAuth",
            "-AlwaysShared",
            "-auth", str(self.xauthority),
            "-nolisten", "tcp",
            "-noreset",
        ]  # fmt: skip

    def _xvfb_args(self) -> list[str]:
        c = self.config
        return [
            "Xvfb",
            "-screen", "0", f"{c.width}x{c.height}x{c.depth}",
            "-auth", str(self.xauthority),
            "-nolisten", "tcp",
            "-noreset",
        ]  # fmt: skip

    def _x11vnc_args(self, password_file: Path) -> list[str]:
        c = self.config
        return [
            "x11vnc",
            "-display", self.display,
            "-auth", str(self.xauthority),
            "-rfbport", str(self.vnc_port),
            *_x11vnc_listen_args(c.vnc_host),
            "-rfbauth", str(password_file),
            "-shared",
            "-forever",
            "-desktop", c.desktop_name,
            "-quiet",
        ]  # fmt: skip


# --- helpers ---------------------------------------------------------------------------


def _x11vnc_listen_args(host: str) -> list[str]:
    """Listen on `host` alone. Besides its -rfbport listener, x11vnc's LibVNCServer opens
    one of its own on [::]:5900 (its default -rfbportv6), whatever -listen and -noipv6
    say: -rfbportv6 -1 turns that one off."""
    if ipaddress.ip_address(host).version == 6:
        return ["-6", "-listen6", host, "-noipv4", "-rfbportv6", "-1"]
    return ["-listen", host, "-no6", "-noipv6", "-rfbportv6", "-1"]


def write_xauthority(path: Path, cookie: bytes) -> None:
    """Write an Xauthority file holding one MIT-MAGIC-COOKIE-1 for every local display.

    The display number is not known before the server starts, so the entries leave it
    empty (matches any display): one for this host name (python-xlib looks that up) and
    one FamilyWild entry (libXau clients accept it).
    """
    host = socket.gethostname().encode()
    entries = [(256, host), (65535, b"")]  # FamilyLocal, FamilyWild
    data = b""
    for family, address in entries:
        data += family.to_bytes(2, "big")
        for part in (address, b"", b"MIT-MAGIC-COOKIE-1", cookie):
            data += len(part).to_bytes(2, "big") + part
    path.touch(mode=0o600)
    path.write_bytes(data)


def write_vnc_password(path: Path, password: str) -> None:
    """Store `password` in the vncpasswd format both Xvnc and x11vnc read (`-rfbauth`)."""
    if not password:
        raise ValueError("VNC password must not be empty")
    vncpasswd = shutil.which("vncpasswd")
    if vncpasswd is not None:
        # `-f` filters: plain password on stdin, obfuscated bytes on stdout.
        stored = subprocess.run(
            [vncpasswd, "-f"],
            input=f"{password}\n".encode(),
            capture_output=True,
            check=True,
        ).stdout
        path.touch(mode=0o600)
        path.write_bytes(stored)
        return
    x11vnc = shutil.which("x11vnc")
    if x11vnc is None:
        raise XServerError("need `vncpasswd` (tigervnc-tools) or `x11vnc` to store the password")
    path.touch(mode=0o600)
    subprocess.run([x11vnc, "-storepasswd", password, str(path)], capture_output=True, check=True)


def _line_reader(fd: int) -> Callable[[], bytes | None]:
    """A check that reads what is there on `fd` without blocking; the first line once a
    whole one has arrived, else None (also after EOF: the writer died)."""
    data = bytearray()

    def line() -> bytes | None:
        while b"\n" not in data and select.select([fd], [], [], 0)[0]:
            chunk = os.read(fd, 64)
            if not chunk:
                break
            data.extend(chunk)
        return bytes(data.split(b"\n", 1)[0]) if b"\n" in data else None

    return line


def _rfb_banner(address: tuple[str, int]) -> bool:
    """True when `address` accepts a connection and greets with an RFB version banner."""
    try:
        with socket.create_connection(address, timeout=1.0) as sock:
            return sock.recv(12).startswith(b"RFB ")
    except OSError:
        return False


def _dial_host(host: str) -> str:
    """Where to reach a server bound to `host` from this machine."""
    return {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)


def _require_binaries(mode: XServerMode) -> None:
    needed = ["Xvnc"] if mode == "xvnc" else ["Xvfb", "x11vnc"]
    missing = [name for name in needed if shutil.which(name) is None]
    if missing:
        package = {"Xvnc": "tigervnc-standalone-server", "Xvfb": "xvfb", "x11vnc": "x11vnc"}
        hint = ", ".join(package[m] for m in missing)
        raise XServerError(f"{', '.join(missing)} not found on PATH; install {hint}")


def _clean_env(base: Mapping[str, str] | None) -> dict[str, str]:
    """The environment for the X server itself: no inherited DISPLAY/XAUTHORITY."""
    env = dict(os.environ if base is None else base)
    env.pop("DISPLAY", None)
    env.pop("XAUTHORITY", None)
    return env


def _chown_tree(path: Path, user: str) -> None:
    shutil.chown(path, user=user)
    for child in path.iterdir():
        shutil.chown(child, user=user)
