"""The VNC server listens only on the address it is given, over IPv4 and IPv6 alike.

Each case runs in a network namespace of its own holding, besides loopback, a global IPv6
and a global IPv4 address (tests/helpers/vnc_listen_probe.py), and connects to every
address on every port the VNC server listens on (and on 5900, the default port VNC
servers fall back to): only the configured address may answer.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from deskpilot.sandbox.xserver import MODES
from tests.fixtures.xdisplay import x_binaries_missing

pytestmark = pytest.mark.x11

ROOT = Path(__file__).resolve().parents[2]


def _probe(mode: str, host: str) -> dict:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare(1) for a network namespace of its own")
    if missing := x_binaries_missing(mode):  # type: ignore[arg-type]
        pytest.skip(f"{', '.join(missing)} not installed")
    done = subprocess.run(
        ["unshare", "--net", sys.executable, "-m", "tests.helpers.vnc_listen_probe", mode, host],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_vnc_answers_only_on_the_configured_address(mode: str, host: str) -> None:
    seen = _probe(mode, host)
    port = seen["vnc_port"]
    expected = "127.0.0.1" if host == "127.0.0.1" else "::1"
    assert seen["answered"] == [f"{expected} port {port}"], seen
    bound = f"{host}:{port}" if ":" not in host else f"[{host}]:{port}"
    assert seen["listening"] == [bound], seen
