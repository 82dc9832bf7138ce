"""The local sandbox provider with real sandboxes: the warm pool, sizes, and stopping a
sandbox that another (dead) replica started."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from deskpilot.orchestrator.sandboxes.client import SandboxClient
from deskpilot.orchestrator.sandboxes.local import LocalSandboxProvider
from deskpilot.orchestrator.tools import TOOL_SETS
from deskpilot.v1 import common_pb2, session_pb2
from tests.helpers.processes import alive

pytestmark = pytest.mark.x11


def pid_of(endpoints: session_pb2.SandboxEndpoints) -> int:
    return int(endpoints.sandbox_id.rsplit("-", 1)[1])


async def screen_size(sandbox: session_pb2.ProvisionedSandbox) -> tuple[int, int]:
    client = SandboxClient(
        sandbox.endpoints,
        TOOL_SETS[session_pb2.TOOL_SET_20250124],
        credential=sandbox.secrets.executor_credential,
    )
    try:
        info = await client.info()
    finally:
        await client.close()
    return info.physical_size.width, info.physical_size.height


async def test_a_session_gets_the_warm_sandbox_and_the_pool_refills(sandbox_dir: Path) -> None:
    provider = LocalSandboxProvider(pool_size=1, default_size=(1024, 768), work_dir=sandbox_dir)
    try:
        provider.fill_pool()
        await provider.wait_for_pool()
        warm_pid = pid_of(provider._pool[0].endpoints)
        sandbox = await provider.acquire("s-1", common_pb2.Size(), "")
        endpoints = sandbox.endpoints
        assert pid_of(endpoints) == warm_pid  # no desktop had to start
        assert await screen_size(sandbox) == (1024, 768)
        await provider.wait_for_pool()
        assert len(provider._pool) == 1 and pid_of(provider._pool[0].endpoints) != warm_pid
        other_sandbox = await provider.acquire("s-2", common_pb2.Size(width=800, height=600), "")
        other = other_sandbox.endpoints
        assert pid_of(other) != pid_of(provider._pool[0].endpoints)  # wrong size: started
        assert await screen_size(other_sandbox) == (800, 600)
        # Each sandbox has a credential of its own.
        assert sandbox.secrets.executor_credential != other_sandbox.secrets.executor_credential
        await provider.release(endpoints)
        assert not alive(warm_pid)
        assert alive(pid_of(other))
    finally:
        await provider.close()
    assert not alive(pid_of(other))


async def test_a_replica_stops_a_sandbox_it_took_over(sandbox_dir: Path) -> None:
    first = LocalSandboxProvider(pool_size=0, work_dir=sandbox_dir / "first")
    second = LocalSandboxProvider(pool_size=0, work_dir=sandbox_dir / "second")
    try:
        endpoints = (
            await first.acquire("s-1", common_pb2.Size(width=640, height=480), "")
        ).endpoints
        pid = pid_of(endpoints)
        # `first` is gone as far as the session is concerned: `second` ends it.
        await second.release(endpoints)
        assert not alive(pid)
        # A stale id, or one whose pid is another program now, stops nothing.
        await second.release(session_pb2.SandboxEndpoints(sandbox_id=f"local-9-{os.getpid()}"))
        await second.release(session_pb2.SandboxEndpoints(sandbox_id="local-9-notapid"))
        assert alive(os.getpid())
    finally:
        await first.close()
        await second.close()
