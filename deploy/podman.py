"""Run podman with deskpilot's settings (deploy/containers.conf), without touching the
machine's own configuration."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

CONTAINERS_CONF = Path(__file__).resolve().parent / "containers.conf"


def environment() -> dict[str, str]:
    """This process's environment with CONTAINERS_CONF pointing at ours (unless set)."""
    env = dict(os.environ)
    env.setdefault("CONTAINERS_CONF", str(CONTAINERS_CONF))
    return env


def available() -> bool:
    return shutil.which("podman") is not None


def podman(*args: str, capture: bool = False, check: bool = True) -> subprocess.CompletedProcess:
    """`podman ARGS`; with `capture`, its stdout as text (stderr still reaches ours)."""
    return subprocess.run(
        ["podman", *args],
        env=environment(),
        check=check,
        text=True,
        stdout=subprocess.PIPE if capture else None,
    )


def image_label(reference: str, label: str) -> str | None:
    """A label of a local image, or None when there is no such image."""
    result = subprocess.run(
        ["podman", "image", "inspect", "--format", f'{{{{index .Labels "{label}"}}}}', reference],
        env=environment(),
        text=True,
        capture_output=True,
    )
    if result.returncode != 0:
        return None
    value = result.stdout.strip()
    return "" if value == "<no value>" else value


def image_exists(reference: str) -> bool:
    return podman("image", "exists", reference, check=False).returncode == 0
