"""The sandbox start script, run as a real process: it reports ready only when X, VNC and
the executors answer, and stops every process it started — on SIGTERM, and when an
executor dies. As root, it runs the desktop as an unprivileged user with its own home,
and refuses to run as root."""

from __future__ import annotations

import os
import pwd
import select
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from deskpilot.common.grpc_client import open_channel
from deskpilot.common.sandbox_credential import call_metadata, write_credential_file
from deskpilot.common.sandbox_ready import parse_ready_line
from deskpilot.common.sandbox_user import sandbox_python
from deskpilot.display.xconnection import open_display
from deskpilot.v1 import display_pb2, display_pb2_grpc, session_pb2
from tests.helpers.processes import alive, child_running, children, gone_soon

pytestmark = pytest.mark.x11


@dataclass
class RunningSandbox:
    process: subprocess.Popen[str]
    report: session_pb2.SandboxReady
    workdir: Path

    def descendants(self) -> list[int]:
        """Pids whose parent is the sandbox (its direct children)."""
        return children(self.process.pid)


def start_sandbox(tmp_path: Path, *args: str) -> RunningSandbox:
    workdir = tmp_path / "work"
    process = subprocess.Popen(
        [sys.executable, "-m", "deskpilot.sandbox", "--workdir", str(workdir),
         "--ready-file", str(tmp_path / "ready.json"), "--log-format", "text",
         "--executor-python", sandbox_python(), *args],
        stdout=subprocess.PIPE,
        stderr=open(tmp_path / "sandbox.log", "w"),  # noqa: SIM115 - owned by the child
        text=True,
    )  # fmt: skip
    ready, _, _ = select.select([process.stdout], [], [], 60)
    line = process.stdout.readline() if ready else ""  # type: ignore[union-attr]
    if not line:
        process.kill()
        process.wait()
        pytest.fail(f"sandbox never reported ready:\n{(tmp_path / 'sandbox.log').read_text()}")
    report = parse_ready_line(line)
    assert report is not None, f"not a ready report: {line!r}"
    return RunningSandbox(process, report, workdir)


def stop_sandbox(sandbox: RunningSandbox) -> int:
    if sandbox.process.poll() is None:
        sandbox.process.send_signal(signal.SIGTERM)
    return sandbox.process.wait(timeout=30)


@pytest.fixture
def full_sandbox(sandbox_dir: Path) -> Iterator[RunningSandbox]:
    sandbox = start_sandbox(sandbox_dir, "--home", str(sandbox_dir / "home"))
    try:
        yield sandbox
    finally:
        stop_sandbox(sandbox)


async def test_sandbox_is_ready_when_everything_answers_and_stops_everything(
    full_sandbox: RunningSandbox, sandbox_dir: Path
) -> None:
    report = full_sandbox.report
    assert report.pid == full_sandbox.process.pid
    assert parse_ready_line((sandbox_dir / "ready.json").read_text()) == report
    assert len(report.secrets.vnc_password) == 8  # generated, so reported

    # X answers, with the sandbox's cookie.
    os.environ["XAUTHORITY"], previous = (
        str(full_sandbox.workdir / "x" / "Xauthority"),
        os.environ.get("XAUTHORITY", ""),
    )
    try:
        conn = open_display(report.display)
        assert conn.screen().width_in_pixels == report.screen.width
        conn.close()
    finally:
        os.environ["XAUTHORITY"] = previous

    # VNC speaks RFB.
    vnc_host, _, vnc_port = report.endpoints.vnc_address.rpartition(":")
    with socket.create_connection((vnc_host, int(vnc_port)), timeout=5) as sock:
        assert sock.recv(12).startswith(b"RFB 003.00")

    # The display executor serves the right display; the shell executor (when installed)
    # is healthy.
    # Its executors answer with the credential it generated (none was given), which only
    # the ready report carries.
    credential = report.secrets.executor_credential
    assert credential
    async with open_channel(report.endpoints.display_address) as channel:
        info = await display_pb2_grpc.DisplayStub(channel).GetInfo(
            display_pb2.GetInfoRequest(), metadata=call_metadata(credential)
        )
        assert info.display == report.display
        assert info.physical_size.width == report.screen.width
    if report.endpoints.shell_address:
        async with open_channel(report.endpoints.shell_address) as channel:
            reply = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service="deskpilot.v1.Shell")
            )
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
    else:
        assert "shell executor" in report.missing

    children = full_sandbox.descendants()
    # X server + VNC server (xvfb mode), openbox, tint2, display executor, shell executor.
    assert len(children) >= 5
    assert stop_sandbox(full_sandbox) == 0
    assert [pid for pid in children if alive(pid)] == []
    assert not (sandbox_dir / "ready.json").exists()


def test_sandbox_stops_everything_when_an_executor_dies(sandbox_dir: Path) -> None:
    sandbox = start_sandbox(
        sandbox_dir, "--no-desktop", "--no-shell-executor", "--x-server", "xvnc"
    )
    try:
        children = sandbox.descendants()
        os.kill(child_running(sandbox.process.pid, b"deskpilot.display"), signal.SIGKILL)
        assert sandbox.process.wait(timeout=30) == 1
        assert [pid for pid in children if alive(pid)] == []
    finally:
        stop_sandbox(sandbox)


def test_killing_the_sandbox_process_kills_everything_it_started(sandbox_dir: Path) -> None:
    sandbox = start_sandbox(sandbox_dir, "--home", str(sandbox_dir / "home"))
    try:
        children = sandbox.descendants()
        assert len(children) >= 5  # X, VNC, openbox, tint2, executors
        sandbox.process.kill()  # SIGKILL: the sandbox cannot stop anything itself
        sandbox.process.wait(timeout=30)
        assert gone_soon(children) == []
    finally:
        stop_sandbox(sandbox)


@pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root")
def test_as_root_the_desktop_runs_as_an_unprivileged_user(sandbox_dir: Path) -> None:
    home = sandbox_dir / "home"
    sandbox = start_sandbox(
        sandbox_dir, "--user", "deskpilot-test", "--home", str(home),
        "--no-display-executor", "--no-shell-executor",
    )  # fmt: skip
    try:
        uid = pwd.getpwnam("deskpilot-test").pw_uid
        assert sandbox.report.user == "deskpilot-test"
        assert home.stat().st_uid == uid
        children = sandbox.descendants()
        names = {Path(f"/proc/{pid}/comm").read_text().strip() for pid in children}
        assert {"Xvfb", "x11vnc", "openbox", "tint2"} <= names
        for pid in children:
            assert Path(f"/proc/{pid}").stat().st_uid == uid
        # Switching users must not undo dying with the sandbox.
        sandbox.process.kill()
        sandbox.process.wait(timeout=30)
        assert gone_soon(children) == []
    finally:
        stop_sandbox(sandbox)


@pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root")
def test_a_home_the_user_cannot_reach_is_refused(tmp_path: Path) -> None:
    tmp_path.chmod(0o700)  # private to root
    process = subprocess.run(
        [sys.executable, "-m", "deskpilot.sandbox", "--user", "deskpilot-test",
         "--home", str(tmp_path / "home"), "--no-display-executor", "--no-shell-executor",
         "--log-format", "text"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert process.returncode == 1
    assert "cannot reach its home" in process.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root")
@pytest.mark.parametrize(
    ("user", "code", "refusal"),
    [
        ("", 2, "invalid setting user"),
        ("root", 1, "user root has uid 0: a sandbox never runs as root"),
    ],
)
def test_as_root_there_is_no_user_that_keeps_root(
    sandbox_dir: Path, user: str, code: int, refusal: str
) -> None:
    process = subprocess.run(
        [sys.executable, "-m", "deskpilot.sandbox", "--user", user,
         "--workdir", str(sandbox_dir / "work"), "--log-format", "text"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert process.returncode == code
    assert refusal in process.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root")
def test_executors_the_user_cannot_run_stop_the_sandbox_instead_of_running_as_root(
    sandbox_dir: Path,
) -> None:
    # A Python in a folder closed to the sandbox user (as a pyenv under /root is).
    closed = sandbox_dir / "closed"
    (closed / "bin").mkdir(parents=True)
    (closed / "bin" / "python3").symlink_to(sys.executable)
    closed.chmod(0o700)
    process = subprocess.run(
        [sys.executable, "-m", "deskpilot.sandbox", "--workdir", str(sandbox_dir / "work"),
         "--executor-python", str(closed / "bin" / "python3"), "--log-format", "text"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert process.returncode == 1
    assert f"user deskpilot cannot run {closed}/bin/python3: {closed} is closed to it" in (
        process.stderr
    )
    assert "make sandbox-venv" in process.stderr


async def test_a_given_credential_file_is_read_removed_and_never_reported(
    sandbox_dir: Path,
) -> None:
    credential_file = sandbox_dir / "executors.credential"
    write_credential_file(credential_file, "given-credential")
    sandbox = start_sandbox(
        sandbox_dir, "--credential-file", str(credential_file),
        "--no-desktop", "--no-shell-executor",
    )  # fmt: skip
    try:
        assert not credential_file.exists()  # read, then gone before anything ran as the user
        assert sandbox.report.secrets.executor_credential == ""  # its giver knows it
        async with open_channel(sandbox.report.endpoints.display_address) as channel:
            stub = display_pb2_grpc.DisplayStub(channel)
            info = await stub.GetInfo(
                display_pb2.GetInfoRequest(), metadata=call_metadata("given-credential")
            )
            assert info.display == sandbox.report.display
    finally:
        stop_sandbox(sandbox)


def test_a_credential_file_it_cannot_read_stops_the_sandbox(sandbox_dir: Path) -> None:
    process = subprocess.run(
        [sys.executable, "-m", "deskpilot.sandbox", "--workdir", str(sandbox_dir / "work"),
         "--credential-file", str(sandbox_dir / "absent"), "--log-format", "text"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert process.returncode == 1
    assert f"cannot read the credential file {sandbox_dir / 'absent'}" in process.stderr
