"""The supervisor's HTTP-ready component kind, with the real demo stand-in process."""

from __future__ import annotations

import asyncio
import json
import sys
import urllib.request

import pytest

from deskpilot.cli.components import Invocation
from deskpilot.cli.supervisor import ComponentFailed, HttpProcessComponent
from deskpilot.common.net import free_port


def _get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as reply:
        return json.loads(reply.read())


async def test_the_demo_stand_in_is_ready_once_its_health_url_answers() -> None:
    port = free_port()
    lines: list[str] = []
    stand_in = HttpProcessComponent(
        name="standin",
        command=Invocation((sys.executable, "-m", "deskpilot.cli.demo"), ("--port", str(port))),
        address=f"127.0.0.1:{port}",
    )
    await stand_in.start(lines.append, timeout=30)
    try:
        health = await asyncio.to_thread(_get_json, f"http://127.0.0.1:{port}/health")
        assert health["stand_in"] is True
    finally:
        await stand_in.stop(grace=5)
    assert await stand_in.wait() == 0  # it handles SIGTERM and ends cleanly
    assert any("STAND-IN" in line for line in lines)


async def test_a_process_that_never_serves_http_fails_to_start() -> None:
    port = free_port()
    silent = HttpProcessComponent(
        name="silent",
        command=Invocation((sys.executable, "-c"), ("import time; time.sleep(60)",)),
        address=f"127.0.0.1:{port}",
    )
    try:
        with pytest.raises(ComponentFailed, match=rf"silent: http://127.0.0.1:{port}/health"):
            await silent.start(lambda line: None, timeout=1)
    finally:
        await silent.stop(grace=1)
