"""The container images, run with podman as their Pods run them (read-only root, no
capabilities, no new privileges): each serves, as an unprivileged user, and the sandbox
holds nothing the model's code should reach (the Anthropic SDK, the NATS client)."""

from __future__ import annotations

import asyncio
import shutil
import socket
import uuid
from pathlib import Path

import grpc
import nats
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from nats.errors import NoServersError

from deskpilot.common.grpc_client import open_channel, wait_until_serving
from deskpilot.common.natsserver import NatsServer
from deskpilot.common.net import free_port
from deskpilot.common.sandbox_credential import call_metadata, new_credential, write_credential_file
from deskpilot.common.sandbox_ready import parse_ready_line
from deskpilot.v1 import display_pb2, display_pb2_grpc
from tests.fixtures.auth import test_auth
from tests.fixtures.gateway import gateway_token, http_get
from tests.helpers.containers import first_line, image, podman, process_status, running

# What a read-only sandbox writes, as its Pod template mounts it (emptyDirs).
SANDBOX_VOLUMES = ("/tmp", "/dev/shm", "/home/deskpilot", "/run/deskpilot/state",
                   "/run/deskpilot/credential")  # fmt: skip
NO_CAPABILITIES = "0000000000000000"


def _name(kind: str) -> str:
    return f"deskpilot-test-{kind}-{uuid.uuid4().hex[:8]}"


def _python_finds(reference: str, modules: tuple[str, ...]) -> list[str]:
    code = f"import importlib.util as u; print(*[m for m in {modules!r} if u.find_spec(m)])"
    result = podman("run", "--rm", "--read-only", "--entrypoint", "/opt/deskpilot/bin/python",
                    reference, "-c", code)  # fmt: skip
    return result.stdout.split()


async def test_the_sandbox_image_serves_its_desktop_locked_down() -> None:
    reference = image("sandbox")
    vnc, display, shell = free_port(), free_port(), free_port()
    tmpfs = [f"--tmpfs={path}:rw,nosuid,nodev,mode=0700,U" for path in SANDBOX_VOLUMES]
    env = {"VNC_HOST": "127.0.0.1", "EXECUTOR_HOST": "127.0.0.1", "VNC_PORT": vnc,
           "DISPLAY_PORT": display, "SHELL_PORT": shell}  # fmt: skip
    flags = [f"--env=DESKPILOT_SANDBOX_{key}={value}" for key, value in env.items()]
    name = _name("sandbox")
    with running(reference, *tmpfs, *flags, name=name) as container:
        line = first_line(container, timeout=90)
        report = parse_ready_line(line)
        assert report is not None, f"no ready report: {line!r} {container.stderr.read()!r}"  # type: ignore[union-attr]

        # The desktop answers: the display executor with the credential it reported,
        # VNC with RFB, the shell executor's health.
        credential = report.secrets.executor_credential
        async with open_channel(f"127.0.0.1:{display}") as channel:
            info = await display_pb2_grpc.DisplayStub(channel).GetInfo(
                display_pb2.GetInfoRequest(), metadata=call_metadata(credential)
            )
            assert info.physical_size.width == report.screen.width > 0
            # Its apps publish their accessibility tree on the desktop's session bus.
            assert "accessibility bus" not in report.missing
            inspected = await display_pb2_grpc.DisplayStub(channel).Inspect(
                display_pb2.InspectRequest(), metadata=call_metadata(credential)
            )
            assert inspected.ui.available, inspected.ui.note
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await display_pb2_grpc.DisplayStub(channel).GetInfo(display_pb2.GetInfoRequest())
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        with socket.create_connection(("127.0.0.1", vnc), timeout=10) as sock:
            assert sock.recv(12).startswith(b"RFB 003.00")
        await wait_until_serving(f"127.0.0.1:{shell}", service="deskpilot.v1.Shell", timeout=30)

        # It runs as the desktop user, with no capability and no way to gain one, on a
        # root it cannot write.
        status = process_status(name)
        assert status["Uid"].split()[0] == "1000"
        assert status["CapEff"] == status["CapPrm"] == NO_CAPABILITIES
        assert status["NoNewPrivs"] == "1"
        wrote = podman("exec", name, "touch", "/opt/deskpilot/x", check=False)
        assert wrote.returncode != 0 and "Read-only file system" in wrote.stderr

    assert _python_finds(reference, ("anthropic", "nats", "deskpilot.display")) == [
        "deskpilot.display"
    ]


def _auth_volume(tmp_path: Path) -> tuple[str, dict[str, str]]:
    """The test keys and the orchestrator's token as a Secret volume at /etc/deskpilot,
    owned by the services' user (`U`), and the settings that name them."""
    auth = test_auth()
    folder = tmp_path / "auth"
    folder.mkdir()
    shutil.copy(auth.public_key_file, folder / "public.pem")
    shutil.copy(auth.secrets_key_file, folder / "secrets.key")
    shutil.copy(auth.token_file(auth.orchestrator_token, "orchestrator-image"), folder / "token")
    shutil.copy(auth.token_file(gateway_token(), "gateway-image"), folder / "gateway.token")
    credential = folder / "credential"
    write_credential_file(credential, new_credential())
    settings = {
        "DESKPILOT_SAFETY_AUTH__PUBLIC_KEY_FILE": "/etc/deskpilot/public.pem",
        "DESKPILOT_ORCHESTRATOR_AUTH__PUBLIC_KEY_FILE": "/etc/deskpilot/public.pem",
        "DESKPILOT_ORCHESTRATOR_AUTH__TOKEN_FILE": "/etc/deskpilot/token",
        "DESKPILOT_ORCHESTRATOR_AUTH__SECRETS_KEY_FILE": "/etc/deskpilot/secrets.key",
        "DESKPILOT_ORCHESTRATOR_SANDBOX__PROVIDER": "existing",
        "DESKPILOT_ORCHESTRATOR_SANDBOX__EXISTING__DISPLAY_ADDRESS": "127.0.0.1:1",
        "DESKPILOT_ORCHESTRATOR_SANDBOX__EXISTING__SHELL_ADDRESS": "127.0.0.1:1",
        "DESKPILOT_ORCHESTRATOR_SANDBOX__EXISTING__CREDENTIAL_FILE": "/etc/deskpilot/credential",
        "DESKPILOT_GATEWAY_AUTH__PUBLIC_KEY_FILE": "/etc/deskpilot/public.pem",
        "DESKPILOT_GATEWAY_AUTH__TOKEN_FILE": "/etc/deskpilot/gateway.token",
    }
    return f"--volume={folder}:/etc/deskpilot:ro,U", settings


@pytest.mark.parametrize(
    ("kind", "service"),
    [("safety", "deskpilot.v1.Safety"), ("orchestrator", "deskpilot.v1.Orchestrator")],
)
async def test_each_grpc_service_image_serves_health_as_an_unprivileged_user(
    kind: str, service: str, nats_server: NatsServer, tmp_path: Path
) -> None:
    reference = image(kind)
    port = free_port()
    volume, settings = _auth_volume(tmp_path)
    prefix = f"DESKPILOT_{kind.upper()}_"
    env = {key: value for key, value in settings.items() if key.startswith(prefix)}
    env |= {f"{prefix}PORT": str(port), "DESKPILOT_NATS_URL": nats_server.url}
    name = _name(kind)
    with running(reference, volume, "--tmpfs=/tmp", *[f"--env={k}={v}" for k, v in env.items()],
                 name=name) as container:  # fmt: skip
        try:
            await wait_until_serving(f"127.0.0.1:{port}", service=service, timeout=60)
        except TimeoutError:
            podman("rm", "--force", name, check=False)
            pytest.fail(f"{kind} never served: {container.stderr.read()}")  # type: ignore[union-attr]
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            health = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=service)
            )
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        status = process_status(name)
        assert status["Uid"].split()[0] == "10001"
        assert status["CapEff"] == NO_CAPABILITIES
    # Both talk to Claude: the orchestrator drives the model, the safety gate's (optional)
    # judge asks it about content. The sandbox and the gateway never carry the SDK.
    assert _python_finds(reference, ("anthropic",)) == ["anthropic"]


async def test_the_gateway_image_serves_its_page_as_an_unprivileged_user(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    reference = image("gateway")
    port = free_port()
    volume, settings = _auth_volume(tmp_path)
    env = {key: value for key, value in settings.items() if key.startswith("DESKPILOT_GATEWAY_")}
    env |= {"DESKPILOT_GATEWAY_PORT": str(port), "DESKPILOT_NATS_URL": nats_server.url}
    name = _name("gateway")
    url = f"http://127.0.0.1:{port}"
    with running(reference, volume, "--tmpfs=/tmp", *[f"--env={k}={v}" for k, v in env.items()],
                 name=name) as container:  # fmt: skip
        for _ in range(60):
            try:
                health = await http_get(url + "/healthz")
                break
            except OSError:
                if container.poll() is not None:
                    pytest.fail(f"gateway exited: {container.stderr.read()}")  # type: ignore[union-attr]
                await asyncio.sleep(1)
        else:
            pytest.fail("the gateway never answered")
        assert health.json() == {"status": "ok"}
        page = await http_get(url + "/")
        assert page.status == 200 and b"<html" in page.body.lower()
        # The page's noVNC is in the image (a git-ignored file the wheel must carry).
        novnc = await http_get(url + "/vendor/novnc/core/rfb.js")
        assert novnc.status == 200 and b"RFB" in novnc.body
        status = process_status(name)
        assert status["Uid"].split()[0] == "10001"
        assert status["CapEff"] == NO_CAPABILITIES
    assert _python_finds(reference, ("anthropic", "deskpilot.gateway")) == ["deskpilot.gateway"]


async def test_the_nats_image_serves_jetstream_as_an_unprivileged_user() -> None:
    reference = image("nats")
    port = free_port()
    volumes = ["--tmpfs=/data:rw,U", "--tmpfs=/var/run/nats:rw,U"]
    # Its Pod passes a config file; these flags say the same for one server.
    server = ["-js", "-a", "127.0.0.1", "-p", str(port), "-sd", "/data"]
    name = _name("nats")
    with running(reference, *volumes, name=name, command=server) as container:
        try:
            client = await nats.connect(
                f"nats://127.0.0.1:{port}", connect_timeout=5, max_reconnect_attempts=12,
                reconnect_time_wait=1, allow_reconnect=True,
            )  # fmt: skip
        except NoServersError:
            podman("rm", "--force", name, check=False)
            pytest.fail(f"nats never served: {container.stderr.read()}")  # type: ignore[union-attr]
        try:
            account = await client.jetstream().account_info()
            assert account.limits is not None
        finally:
            await client.close()
        user = podman("inspect", "--format", "{{.Config.User}}", name).stdout.strip()
        assert user == "10001:10001"
