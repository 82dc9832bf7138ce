"""The one-machine deployment (deploy/compose.py): the stack's images in one podman Pod,
wired over its loopback. The page answers on the host's loopback only; the gateway reaches
the orchestrator with a person's token; each container runs as its own user, without
capabilities."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from deskpilot.common.net import free_port
from tests.fixtures.gateway import bearer, http_get
from tests.helpers.containers import CONTAINERS_CONF, ROOT, image, podman, process_status

SERVICES = {"nats": "10001", "safety": "10001", "orchestrator": "10001", "gateway": "10001",
            "sandbox": "1000"}  # fmt: skip


def _compose(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "compose.py"), *args],
        env={"CONTAINERS_CONF": str(CONTAINERS_CONF), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip


@pytest.fixture
def pod(tmp_path: Path) -> Iterator[tuple[str, int, Path]]:
    for name in SERVICES:
        image(name)  # fails at once, saying how to build it
    name, port = f"deskpilot-test-{uuid.uuid4().hex[:8]}", free_port()
    flags = ["--name", name, "--port", str(port), "--data-dir", str(tmp_path / "compose")]
    started = _compose("up", *flags)
    try:
        assert started.returncode == 0, started.stderr
        yield name, port, tmp_path / "compose"
    finally:
        _compose("down", *flags)


async def _healthy(url: str) -> None:
    for _ in range(120):
        try:
            if (await http_get(url + "/healthz")).status == 200:
                return
        except OSError:
            pass
        await asyncio.sleep(0.5)
    pytest.fail(f"{url} never became healthy")


async def test_the_pod_serves_the_page_and_wires_the_gateway_to_the_orchestrator(
    pod: tuple[str, int, Path],
) -> None:
    name, port, data = pod
    url = f"http://127.0.0.1:{port}"
    await _healthy(url)
    assert b"<html" in (await http_get(url + "/")).body.lower()
    token = (data / "auth" / "cli.token").read_text().strip()
    # Answered by the orchestrator in its own container, with the person's token.
    for _ in range(60):  # the orchestrator may still be starting
        sessions = await http_get(url + "/api/sessions", headers=bearer(token))
        if sessions.status != 503:
            break
        await asyncio.sleep(0.5)
    assert sessions.status == 200, sessions.body
    assert (await http_get(url + "/api/sessions")).status == 401
    for service, uid in SERVICES.items():
        if service == "nats":  # no shell, no cat: its user is the image's
            user = podman("inspect", "--format", "{{.Config.User}}", f"{name}-nats").stdout
            assert user.strip().startswith("10001")
            continue
        status = process_status(f"{name}-{service}")
        assert status["Uid"].split()[0] == uid, service
        assert status["CapEff"] == "0000000000000000", service
