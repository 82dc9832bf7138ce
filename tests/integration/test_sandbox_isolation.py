"""What the model's shell inside a real local sandbox can see and be, and who its
executors answer: none of the orchestrator's secrets, never root, and only calls that
carry the sandbox's credential, which nothing in the sandbox can read."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import struct_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from deskpilot.common.credential_check import MISSING, WRONG
from deskpilot.common.errors import Unavailable
from deskpilot.common.sandbox_credential import call_metadata
from deskpilot.v1 import common_pb2, display_pb2, display_pb2_grpc, shell_pb2, shell_pb2_grpc
from tests.fixtures.sandboxes import local_sandbox, run_bash

pytestmark = [pytest.mark.x11, pytest.mark.timeout(180)]

Call = Callable[[tuple[tuple[str, str], ...]], Awaitable[Any]]


async def test_the_models_shell_sees_none_of_the_orchestrators_environment(
    sandbox_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    planted = {
        "ANTHROPIC_API_KEY": f"sk-ant-planted-{secrets.token_hex(8)}",
        "ANTHROPIC_BASE_URL": f"http://planted-{secrets.token_hex(4)}.invalid",
        "AWS_SECRET_ACCESS_KEY": f"planted-{secrets.token_hex(8)}",
        "DESKPILOT_ORCHESTRATOR_PLANTED": f"planted-{secrets.token_hex(8)}",
    }
    for name, value in planted.items():
        monkeypatch.setenv(name, value)  # the provider runs in the orchestrator's process
    async with local_sandbox(sandbox_dir) as (_, client):
        shown = await run_bash(client, "env")
        # Every process the model can read the environment of: its own, the executors',
        # the desktop's and the X and VNC servers'.
        others = await run_bash(client, "cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n'")
    assert not shown.is_error, shown.text
    assert "HOME=" in shown.text and "DISPLAY=" in shown.text  # what the desktop needs
    for seen in (shown.text, others.text):
        for name, value in planted.items():
            assert name not in seen and value not in seen
        assert "DESKPILOT_" not in seen


async def test_the_models_shell_is_never_root_whatever_python_the_stack_runs(
    sandbox_dir: Path,
) -> None:
    # The orchestrator (this process) runs as root, with this machine's Python, which may
    # live where the sandbox user cannot go (a pyenv under /root).
    async with local_sandbox(sandbox_dir) as (_, client):
        who = await run_bash(client, "id -u; id -un")
    uid, name = who.text.splitlines()
    assert int(uid) != 0 and name != "root", who.text
    if os.geteuid() == 0:
        assert name == "deskpilot"


@pytest.mark.skipif(os.geteuid() != 0, reason="only root could run a sandbox as root")
async def test_no_provider_setting_runs_a_sandbox_as_root(sandbox_dir: Path) -> None:
    with pytest.raises(Unavailable, match=r"invalid setting user \(--user"):
        async with local_sandbox(sandbox_dir, user=""):
            pass


def _tool_call(name: str, **arguments: Any) -> common_pb2.ToolCall:
    struct = struct_pb2.Struct()
    struct.update(arguments)
    return common_pb2.ToolCall(name=name, input=struct)


def _every_call(
    display_channel: grpc.aio.Channel, shell_channel: grpc.aio.Channel, home: str, mark: str
) -> dict[str, Call]:
    """One call of every executor method; those that act would leave `mark` in `home`."""
    display = display_pb2_grpc.DisplayStub(display_channel)
    shell = shell_pb2_grpc.ShellStub(shell_channel)
    touch = shell_pb2.BashRequest(command=shell_pb2.BashCommand(command=f"touch ~/{mark}"))
    create = _tool_call(
        "str_replace_editor", command="create", path=f"{home}/{mark}.txt", file_text=""
    )
    click = _tool_call("computer", action="left_click", coordinate=[10, 10])

    async def bash_stream(metadata: Any) -> list[Any]:
        request = shell_pb2.BashStreamRequest(request=touch)
        return [reply async for reply in shell.BashStream(request, metadata=metadata)]

    calls: dict[str, Call] = {
        "Display.GetInfo": lambda m: display.GetInfo(display_pb2.GetInfoRequest(), metadata=m),
        "Display.Screenshot": lambda m: display.Screenshot(
            display_pb2.ScreenshotRequest(), metadata=m
        ),
        "Display.Act": lambda m: display.Act(display_pb2.ActRequest(tool_call=click), metadata=m),
        "Shell.Bash": lambda m: shell.Bash(touch, metadata=m),
        "Shell.BashStream": bash_stream,
        "Shell.Edit": lambda m: shell.Edit(shell_pb2.EditRequest(tool_call=create), metadata=m),
    }
    return calls


async def test_executors_refuse_every_call_without_the_sandbox_credential(
    sandbox_dir: Path,
) -> None:
    mark = f"refused-{secrets.token_hex(4)}"
    async with local_sandbox(sandbox_dir) as (sandbox, client):
        endpoints, credential = sandbox.endpoints, sandbox.secrets.executor_credential
        assert credential
        home = (await run_bash(client, "echo ~")).text.strip()
        display_channel = grpc.aio.insecure_channel(endpoints.display_address)
        shell_channel = grpc.aio.insecure_channel(endpoints.shell_address)
        try:
            calls = _every_call(display_channel, shell_channel, home, mark)
            for metadata, message in ((), MISSING), (call_metadata(f"{credential}x"), WRONG):
                for name, call in calls.items():
                    with pytest.raises(grpc.aio.AioRpcError) as refused:
                        await call(metadata)
                    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED, name
                    assert refused.value.details() == message, name
            # Health checks and reflection stay open, for probes and grpcurl.
            for channel, service in (display_channel, "deskpilot.v1.Display"), (
                shell_channel, "deskpilot.v1.Shell",
            ):  # fmt: skip
                health = await health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(service=service)
                )
                assert health.status == health_pb2.HealthCheckResponse.SERVING
                request = reflection_pb2.ServerReflectionRequest(list_services="")
                stub = reflection_pb2_grpc.ServerReflectionStub(channel)
                replies = [r async for r in stub.ServerReflectionInfo(iter([request]))]
                assert service in {s.name for s in replies[0].list_services_response.service}
            # With the credential, every call is served.
            for call in calls.values():
                await call(call_metadata(credential))
        finally:
            await display_channel.close()
            await shell_channel.close()
        # The orchestrator's client sends it: the model's tools work. Nothing refused ran.
        listing = await run_bash(client, f"ls ~ | grep -c {mark}$ || true")
    assert listing.text.strip() == "1", listing.text  # only the served touch left its mark


async def test_the_credential_is_nowhere_the_models_shell_can_read(sandbox_dir: Path) -> None:
    seen = Path(f"/tmp/deskpilot-test-seen-{secrets.token_hex(4)}")
    try:
        async with local_sandbox(sandbox_dir) as (sandbox, client):
            credential = sandbox.secrets.executor_credential
            # What the model can read: every process's command line and environment, and
            # every file of the sandbox's folders (home, X cookie, VNC password, logs),
            # dumped as the model sees them, for this test to search.
            dump = await run_bash(
                client,
                "{ cat /proc/[0-9]*/cmdline /proc/[0-9]*/environ; "
                f"find ~ {sandbox_dir} -type f -readable -exec cat {{}} +; }} > {seen} 2>/dev/null;"
                f" wc -c < {seen}",
            )
            # The executors hold it in memory: no process of the user may look into theirs.
            peek = await run_bash(
                client,
                "for pid in $PPID $(pgrep -u $(id -u) -f deskpilot.display); do "
                "cat /proc/$pid/environ >/dev/null 2>&1 && echo readable || echo refused; "
                "head -c1 /proc/$pid/mem >/dev/null 2>&1 && echo readable || echo refused; "
                "ls /proc/$pid/fd >/dev/null 2>&1 && echo readable || echo refused; done",
            )
            left = _credential_files(sandbox_dir)
        assert int(dump.text.split()[-1]) > 0, dump.text
        readable = await asyncio.to_thread(seen.read_bytes)
        assert b"XAUTHORITY=" in readable and b"deskpilot.display" in readable  # it did look
        assert credential.encode() not in readable
    finally:
        await asyncio.to_thread(seen.unlink, missing_ok=True)
    assert peek.text.split() == ["refused"] * 6, peek.text  # the shell and display executors
    assert left == []  # the provider's file is gone once the sandbox has read it


def _credential_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*.credential"))
