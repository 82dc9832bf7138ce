"""Every service runs as its own process and answers health checks and server reflection
over a real channel, listing its own service (what grpcurl and Kubernetes probes use)."""

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
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", module, "--port", str(port), env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    address = f"127.0.0.1:{port}"
    try:
        await wait_until_serving(address, service=service, timeout=60)
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
        process.terminate()
        assert await asyncio.wait_for(process.wait(), 30) == 0  # a clean, graceful stop
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
