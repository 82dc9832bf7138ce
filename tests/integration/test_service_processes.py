"""Every service runs as its own process and answers health checks and server reflection
over a real channel, listing its own service (what grpcurl and Kubernetes probes use), and
refuses a port another copy holds."""

from __future__ import annotations

import asyncio
import os
import sys

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from deskpilot.common.grpc_client import wait_until_serving
from deskpilot.common.natsserver import NatsServer
from deskpilot.common.net import free_port
from deskpilot.sandbox.xserver import XServer
from tests.fixtures.auth import test_auth


@pytest.mark.parametrize(
    ("module", "service"),
    [
        ("deskpilot.shell", "deskpilot.v1.Shell"),
        ("deskpilot.display", "deskpilot.v1.Display"),
        ("deskpilot.safety", "deskpilot.v1.Safety"),
        ("deskpilot.orchestrator", "deskpilot.v1.Orchestrator"),
    ],
)
async def test_each_service_process_serves_health_and_reflection(
    module: str, service: str, nats_server: NatsServer, x_display: XServer
) -> None:
    port = free_port()
    env = {
        **os.environ,
        **x_display.env(),
        "DESKPILOT_NATS_URL": nats_server.url,
        "DESKPILOT_ORCHESTRATOR_SANDBOX__PROVIDER": "existing",
        "DESKPILOT_ORCHESTRATOR_SANDBOX__EXISTING__DISPLAY_ADDRESS": "127.0.0.1:1",
        "DESKPILOT_ORCHESTRATOR_SANDBOX__EXISTING__SHELL_ADDRESS": "127.0.0.1:1",
        **_auth_env(),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", module, "--port", str(port), env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    address = f"127.0.0.1:{port}"
    try:
        await wait_until_serving(address, service=service, timeout=60)
        # Health and reflection answer a caller without any token.
        async with grpc.aio.insecure_channel(address) as channel:
            health = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=service)
            )
            assert health.status == health_pb2.HealthCheckResponse.SERVING
            stub = reflection_pb2_grpc.ServerReflectionStub(channel)
            request = reflection_pb2.ServerReflectionRequest(list_services="")
            replies = [r async for r in stub.ServerReflectionInfo(iter([request]))]
            names = {s.name for s in replies[0].list_services_response.service}
            assert service in names and "grpc.health.v1.Health" in names
            assert "grpc.reflection.v1.ServerReflection" in names
        process.terminate()
        assert await asyncio.wait_for(process.wait(), 30) == 0  # a clean, graceful stop
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def _auth_env() -> dict[str, str]:
    """The secured services' key and the orchestrator's token for the gate."""
    auth = test_auth()
    token = auth.token_file(auth.orchestrator_token, "orchestrator-process")
    return {
        "DESKPILOT_SAFETY_AUTH__PUBLIC_KEY_FILE": str(auth.public_key_file),
        "DESKPILOT_ORCHESTRATOR_AUTH__PUBLIC_KEY_FILE": str(auth.public_key_file),
        "DESKPILOT_ORCHESTRATOR_AUTH__TOKEN_FILE": str(token),
    }


async def test_a_second_service_on_a_busy_port_exits_with_one_line_naming_it() -> None:
    port = free_port()
    argv = [sys.executable, "-m", "deskpilot.shell", "--port", str(port), "--log-format", "text"]
    first = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    try:
        await wait_until_serving(f"127.0.0.1:{port}", service="deskpilot.v1.Shell", timeout=60)
        second = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
        )
        _, err = await asyncio.wait_for(second.communicate(), 60)
        assert second.returncode == 1
        last = err.decode().strip().splitlines()[-1]
        assert last == (
            f"deskpilot-shell: cannot listen on 127.0.0.1:{port}: port {port} is in use "
            "(another server, or another copy of this one?)"
        )
        assert first.returncode is None  # the first one keeps its port and serves on
        await wait_until_serving(f"127.0.0.1:{port}", service="deskpilot.v1.Shell", timeout=5)
    finally:
        first.terminate()
        await first.wait()
