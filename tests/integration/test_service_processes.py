"""Every service runs as its own process and answers health checks and server reflection
over a real channel, listing its own service (what grpcurl and Kubernetes probes use), and
refuses a port another copy holds."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from deskpilot.cli.components import COMPONENTS, ComponentSpec
from deskpilot.cli.serving import Grpc
from deskpilot.common.grpc_client import wait_until_serving
from deskpilot.common.natsserver import NatsServer
from deskpilot.common.net import free_port
from deskpilot.common.sandbox_credential import (
    credential_pipe,
    new_credential,
    write_credential_file,
)
from deskpilot.sandbox.xserver import XServer
from tests.fixtures.auth import test_auth

# Every gRPC service of the stack's description that is written.
SERVICES = [c for c in COMPONENTS if isinstance(c.serves, Grpc) and c.installed()]
EXECUTORS = ("deskpilot.shell", "deskpilot.display")


def test_the_stack_has_every_grpc_service() -> None:
    assert {c.name for c in SERVICES} >= {"shell", "display", "safety", "orchestrator"}


@pytest.mark.parametrize("spec", SERVICES, ids=lambda c: c.name)
async def test_each_service_process_serves_health_and_reflection(
    spec: ComponentSpec, nats_server: NatsServer, x_display: XServer, tmp_path: Path
) -> None:
    assert isinstance(spec.serves, Grpc)
    module, service = spec.module, spec.serves.health_service
    port = free_port()
    credential_file = tmp_path / "credential"
    write_credential_file(credential_file, new_credential())
    env = {
        **os.environ,
        **x_display.env(),
        "DESKPILOT_NATS_URL": nats_server.url,
        "DESKPILOT_ORCHESTRATOR_SANDBOX__PROVIDER": "existing",
        "DESKPILOT_ORCHESTRATOR_SANDBOX__EXISTING__DISPLAY_ADDRESS": "127.0.0.1:1",
        "DESKPILOT_ORCHESTRATOR_SANDBOX__EXISTING__SHELL_ADDRESS": "127.0.0.1:1",
        "DESKPILOT_ORCHESTRATOR_SANDBOX__EXISTING__CREDENTIAL_FILE": str(credential_file),
        **_auth_env(),
    }
    # The executors answer only calls with their sandbox credential, given by descriptor.
    fd = credential_pipe(new_credential())
    executor = ["--credential-fd", str(fd)] if module in EXECUTORS else []
    try:
        with (tmp_path / "service.log").open("wb") as log:  # read it when the test fails
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", module, "--port", str(port), *executor, env=env,
                stdout=asyncio.subprocess.DEVNULL, stderr=log, pass_fds=(fd,),
            )  # fmt: skip
    finally:
        os.close(fd)
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
    """The secured services' key, the orchestrator's token for the gate and its key for
    sandboxes' secrets."""
    auth = test_auth()
    token = auth.token_file(auth.orchestrator_token, "orchestrator-process")
    return {
        "DESKPILOT_SAFETY_AUTH__PUBLIC_KEY_FILE": str(auth.public_key_file),
        "DESKPILOT_ORCHESTRATOR_AUTH__PUBLIC_KEY_FILE": str(auth.public_key_file),
        "DESKPILOT_ORCHESTRATOR_AUTH__TOKEN_FILE": str(token),
        "DESKPILOT_ORCHESTRATOR_AUTH__SECRETS_KEY_FILE": str(auth.secrets_key_file),
    }


async def test_a_second_service_on_a_busy_port_exits_with_one_line_naming_it() -> None:
    port = free_port()
    argv = [sys.executable, "-m", "deskpilot.shell", "--port", str(port), "--log-format", "text"]
    first = await _start_executor(argv, asyncio.subprocess.DEVNULL)
    try:
        await wait_until_serving(f"127.0.0.1:{port}", service="deskpilot.v1.Shell", timeout=60)
        second = await _start_executor(argv, asyncio.subprocess.PIPE)
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


@pytest.mark.parametrize("module", EXECUTORS)
@pytest.mark.parametrize(
    ("flags", "problem"),
    [
        ([], "no sandbox credential: it answers only calls that present one"),
        (["--credential-fd", "9"], "invalid setting credential_fd (--credential-fd): descriptor 9 "
         "is not open: no credential passed"),
    ],
)  # fmt: skip
async def test_an_executor_without_its_credential_does_not_start(
    module: str, flags: list[str], problem: str
) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", module, "--port", str(free_port()), *flags,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 2
    name = module.rpartition(".")[2]
    assert err.decode().strip().splitlines()[-1].startswith(f"deskpilot-{name}: {problem}")


async def _start_executor(argv: list[str], stderr: int) -> asyncio.subprocess.Process:
    fd = credential_pipe(new_credential())
    try:
        return await asyncio.create_subprocess_exec(
            *argv, "--credential-fd", str(fd),
            stdout=asyncio.subprocess.DEVNULL, stderr=stderr, pass_fds=(fd,),
        )  # fmt: skip
    finally:
        os.close(fd)
