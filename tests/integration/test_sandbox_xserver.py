"""The X server launchers, against the real servers: X answers with the right screen size,
the VNC port speaks RFB and offers VNC authentication, several run side by side, and
stop() ends every process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from Xlib import error as xerror

from deskpilot.display.xconnection import open_display
from deskpilot.sandbox.xserver import MODES, XServer, XServerConfig, XServerError
from tests.helpers.processes import alive, gone_soon

pytestmark = pytest.mark.x11

RFB_SECURITY_VNC_AUTH = 2


def rfb_security_types(port: int) -> tuple[bytes, list[int]]:
    """Do the RFB version handshake; return the server banner and offered security types."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        banner = _recv_exact(sock, 12)
        sock.sendall(b"RFB 003.008\n")
        count = _recv_exact(sock, 1)[0]
        assert count > 0, "server refused the connection instead of offering security types"
        return banner, list(_recv_exact(sock, count))


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, f"connection closed after {len(data)} of {size} bytes"
        data += chunk
    return data


@pytest.mark.parametrize("mode", MODES)
def test_display_and_vnc_answer_then_stop_cleanly(
    mode: str, start_x_display: Callable[..., AbstractContextManager[XServer]]
) -> None:
    with start_x_display(mode=mode, width=1024, height=768, depth=24) as server:
        assert server.display.startswith(":")
        conn = open_display(server.display)
        try:
            screen = conn.screen()
            assert (screen.width_in_pixels, screen.height_in_pixels) == (1024, 768)
            assert screen.root_depth == 24
        finally:
            conn.close()

        banner, types = rfb_security_types(server.vnc_port)
        assert banner.startswith(b"RFB 003.00") and banner.endswith(b"\n")
        assert RFB_SECURITY_VNC_AUTH in types
        assert 1 not in types, "VNC must not offer 'None' authentication"
        assert len(server.vnc_password) == 8
        pids = server.pids
        assert pids and all(alive(pid) for pid in pids)

    assert not any(alive(pid) for pid in pids)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.vnc_port), timeout=1).close()


def test_two_servers_side_by_side_get_distinct_displays_and_ports(
    x_display: XServer, start_x_display: Callable[..., AbstractContextManager[XServer]]
) -> None:
    with start_x_display(width=800, height=600) as second:
        assert second.display != x_display.display
        assert second.vnc_port != x_display.vnc_port
        conn = open_display(second.display)
        try:
            assert conn.screen().width_in_pixels == 800
        finally:
            conn.close()
    # The shared display is untouched by the second one stopping.
    conn = open_display(x_display.display)
    try:
        assert conn.screen().width_in_pixels == x_display.width
    finally:
        conn.close()


def test_display_rejects_clients_without_the_cookie(x_display: XServer, tmp_path) -> None:
    empty = tmp_path / "empty-xauthority"
    empty.write_bytes(b"")
    previous = os.environ["XAUTHORITY"]
    os.environ["XAUTHORITY"] = str(empty)
    try:
        with pytest.raises(xerror.DisplayConnectionError):
            open_display(x_display.display)
    finally:
        os.environ["XAUTHORITY"] = previous


def test_a_given_display_number_is_used_and_a_taken_one_refused(
    x_display: XServer, start_x_display: Callable[..., AbstractContextManager[XServer]]
) -> None:
    with start_x_display(display_number=4711, width=320, height=200) as server:
        assert server.display == ":4711"
        conn = open_display(":4711")
        try:
            assert conn.screen().width_in_pixels == 320
        finally:
            conn.close()
    taken = int(x_display.display[1:])
    with (
        pytest.raises(XServerError, match="X server exited"),
        start_x_display(display_number=taken),
    ):
        pass


def test_busy_vnc_port_is_a_clear_error(
    start_x_display: Callable[..., AbstractContextManager[XServer]],
) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        with pytest.raises(XServerError), start_x_display(vnc_port=port):
            pass


def test_bad_geometry_is_rejected_before_starting() -> None:
    with pytest.raises(ValueError, match="geometry"):
        XServerConfig(width=10, height=10)
    with pytest.raises(ValueError, match="mode"):
        XServerConfig(mode="xorg")  # type: ignore[arg-type]


_STARTS_AND_WAITS = """
import sys, time
from deskpilot.sandbox.xserver import XServer, XServerConfig
server = XServer(XServerConfig(mode="xvfb"), die_with_parent=True).start()
print(*server.pids, flush=True)
time.sleep(600)
"""


def test_servers_that_die_with_their_parent_leave_no_shared_memory_behind() -> None:
    """Killed outright (as a sandbox is when its process is killed), x11vnc used to leave
    its ~40 shared-memory segments, and the machine's limit soon refused every new one."""
    parent = subprocess.Popen(
        [sys.executable, "-c", _STARTS_AND_WAITS], stdout=subprocess.PIPE, text=True
    )
    try:
        x_pid, vnc_pid = map(int, parent.stdout.readline().split())  # type: ignore[union-attr]
        time.sleep(1.0)  # x11vnc has set up its polling images
        assert _segments_created_by(vnc_pid) > 0
    finally:
        parent.kill()
        parent.wait()
    assert gone_soon([x_pid, vnc_pid]) == []
    assert _segments_created_by(vnc_pid) == 0


def _segments_created_by(pid: int) -> int:
    """System V shared-memory segments whose creator is `pid`."""
    lines = Path("/proc/sysvipc/shm").read_text().splitlines()
    column = lines[0].split().index("cpid")
    return sum(1 for line in lines[1:] if int(line.split()[column]) == pid)
