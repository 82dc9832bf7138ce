"""Restarting the stack, with real processes: an orchestrator with the local provider is
stopped (SIGTERM, as Ctrl-C on `make run` does), which stops its sandboxes; a new
orchestrator on the same NATS takes its sessions over. A session that was waiting for a
message says its desktop is gone instead of failing, starts no sandbox while it waits, and
its next message runs on a fresh desktop, the model told so."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from deskpilot.cli.launch import start_component
from deskpilot.common.natsserver import NatsServer
from deskpilot.common.net import free_port
from deskpilot.common.processes import AsyncChild
from deskpilot.standin import Turn
from deskpilot.v1 import orchestrator_pb2, session_pb2
from deskpilot.v1 import orchestrator_pb2_grpc as rpc
from tests.fixtures.auth import test_auth
from tests.fixtures.orchestrator import Stack, follow_events, status_is

S = session_pb2
pytestmark = [pytest.mark.x11, pytest.mark.timeout(240)]
waiting_input = status_is(S.SESSION_STATUS_WAITING_INPUT)
screenshot = Turn.tool_use("computer", {"action": "screenshot"})


def _log_text(folder: Path) -> str:
    return (folder / "orchestrator.log").read_text()


@contextlib.asynccontextmanager
async def _orchestrator(
    stack: Stack, nats: NatsServer, folder: Path, name: str
) -> AsyncIterator[tuple[rpc.OrchestratorStub, AsyncChild]]:
    """`python -m deskpilot.orchestrator` with the local provider, started and wired as
    `deskpilot up` does it."""
    address = f"127.0.0.1:{free_port()}"
    addresses = {
        "orchestrator": address,
        "nats": nats.endpoint,
        "safety": stack.safety_address,
        "standin": f"{stack.model.host}:{stack.model.port}",
    }
    process = await start_component(
        "orchestrator", addresses, [
            "--replica-id", name, "--lease-seconds", "2", "--grace-seconds", "1",
            "--sandbox.provider", "local", "--sandbox.local.pool-size", "0",
            "--sandbox.local.work-dir", str(folder / "sandboxes"),
            "--log-format", "json", *test_auth().orchestrator_auth_flags(),
        ],
        log_path=folder / "orchestrator.log",
    )  # fmt: skip
    try:
        async with test_auth().channel(address) as channel:
            yield rpc.OrchestratorStub(channel), process
    finally:
        await process.stop(30)


async def _stop(process: AsyncChild) -> None:
    """SIGTERM, as Ctrl-C on `make run` does; it must end cleanly within the grace."""
    await process.stop(30)
    assert process.returncode == 0


def _pid(sandbox_id: str) -> int:
    return int(sandbox_id.rsplit("-", 1)[1])  # local-N-<pid>


async def _session(stub: rpc.OrchestratorStub, session_id: str) -> S.Session:
    request = orchestrator_pb2.GetSessionRequest(session_id=session_id)
    return (await stub.GetSession(request, timeout=15)).session


async def _until_reason(stub: rpc.OrchestratorStub, session_id: str, part: str) -> S.Session:
    session = await _session(stub, session_id)
    for _ in range(300):
        if part in session.status_reason:
            return session
        await asyncio.sleep(0.1)
        session = await _session(stub, session_id)
    raise AssertionError(f"status reason {session.status_reason!r} never said {part!r}")


def _reset_notes(stack: Stack) -> list[str]:
    """The fresh-desktop notes the model was given (each in the user turn of a request)."""
    turns = [request.messages[-1] for request in stack.model.message_requests]
    texts = [b.get("text", "") for turn in turns for b in turn["content"]]
    return [text for text in texts if text.startswith("This is a fresh desktop")]


async def test_after_a_restart_a_waiting_session_says_its_desktop_is_gone_and_goes_on(
    orchestrator_stack, nats_server: NatsServer, sandbox_dir: Path
) -> None:
    turns = [screenshot, Turn.text("seen"), screenshot, Turn.text("seen again")]
    async with orchestrator_stack(turns) as stack:
        await stack.replicas[0].manager.stop()  # only the processes below run sessions
        async with _orchestrator(stack, nats_server, sandbox_dir / "old", "old") as (stub, old):
            config = S.SessionConfig(task="look", model="claude-sonnet-4-6")
            create = orchestrator_pb2.CreateSessionRequest(config=config)
            session_id = (await stub.CreateSession(create, timeout=15)).session.id
            await follow_events(stub, session_id, waiting_input)
            first = (await _session(stub, session_id)).sandbox_id
            assert first.startswith("local-")
            await _stop(old)  # stops its sandbox too
        with pytest.raises(ProcessLookupError):
            os.kill(_pid(first), 0)

        async with _orchestrator(stack, nats_server, sandbox_dir / "new", "new") as (stub, new):
            waiting = await _until_reason(stub, session_id, "desktop is gone")
            assert waiting.status == S.SESSION_STATUS_WAITING_INPUT
            assert f"sandbox {first}" in waiting.status_reason
            assert "the next message starts a fresh one" in waiting.status_reason
            assert "AioRpcError" not in waiting.status_reason
            assert not waiting.sandbox_id  # nothing started while it only waits

            request = orchestrator_pb2.SendMessageRequest(session_id=session_id, text="again")
            sent = (await stub.SendMessage(request, timeout=15)).session
            events = await follow_events(
                stub, session_id, waiting_input, from_sequence=sent.last_sequence + 1
            )
            [result] = [e.tool_result for e in events if e.HasField("tool_result")]
            assert result.images and not result.is_error  # a fresh desktop answered
            fresh = (await _session(stub, session_id)).sandbox_id
            assert fresh and fresh != first
            [note] = _reset_notes(stack)
            assert f"sandbox {first}" in note
            await _stop(new)
        log = _log_text(sandbox_dir / "new")
        assert "Traceback" not in log and "could not start" not in log
