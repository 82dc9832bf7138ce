"""Run the project's images with podman, as their Pods run them: read-only root, every
capability dropped, no new privileges, writable only where a volume would be."""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONTAINERS_CONF = ROOT / "deploy" / "containers.conf"
LOCKED_DOWN = ("--read-only", "--cap-drop=ALL", "--security-opt=no-new-privileges")


def podman(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}
    return subprocess.run(
        ["podman", *args], env=env, check=check, capture_output=True, text=True, timeout=timeout
    )


def image(name: str) -> str:
    """The local image of that name; a test fails at once, saying how to build it."""
    reference = f"localhost/deskpilot/{name}:dev"
    if podman("image", "exists", reference, check=False).returncode != 0:
        pytest.fail(f"no image {reference}: `make images` builds it (make test does)")
    return reference


@contextlib.contextmanager
def running(
    reference: str, *args: str, name: str, command: Sequence[str] = ()
) -> Iterator[subprocess.Popen[str]]:
    """`podman run ARGS REFERENCE COMMAND` in the foreground (its stdout is the test's to
    read), on the host's network; removed after."""
    env = {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}
    run = ["podman", "run", "--rm", "--name", name, "--network=host", *LOCKED_DOWN]
    process = subprocess.Popen(
        [*run, *args, reference, *command], env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        yield process
    finally:
        podman("rm", "--force", "--time", "5", name, check=False)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=30)
        if process.poll() is None:
            process.kill()
            process.wait()


def first_line(process: subprocess.Popen[str], timeout: float) -> str:
    """The container's first line of output, or '' if it printed none in time."""
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    return process.stdout.readline() if ready else ""  # type: ignore[union-attr]


def process_status(container: str) -> dict[str, str]:
    """/proc/1/status of the container's first process: who it runs as, what it may do."""
    text = podman("exec", container, "cat", "/proc/1/status").stdout
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)
