"""A session whose local sandbox dies, with real processes: killing the sandbox process
(SIGKILL) or its display executor gets the session a fresh desktop at its next step, the
model told why; past max_sandbox_restarts the session fails with the reason. A session
idle past idle_release_seconds stops its sandbox process."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from deskpilot.orchestrator.sandboxes.local import LocalSandboxProvider
from deskpilot.standin import Turn
from deskpilot.v1 import events_pb2, orchestrator_pb2, session_pb2
from deskpilot.v1 import orchestrator_pb2_grpc as rpc
from tests.fixtures.orchestrator import Replica, Stack, follow_events, status_is
from tests.helpers.processes import alive, alive_after, child_running, children

S = session_pb2
pytestmark = [pytest.mark.x11, pytest.mark.timeout(240)]
waiting_input = status_is(S.SESSION_STATUS_WAITING_INPUT)
screenshot = Turn.tool_use("computer", {"action": "screenshot"})


async def _local_replica(stack: Stack, sandbox_dir: Path, **settings: object) -> Replica:
    provider = LocalSandboxProvider(pool_size=0, work_dir=sandbox_dir / "sandboxes")
    stack.stack.push_async_callback(provider.close)  # after the replica has stopped
    return await stack.add_replica(provider=provider, **settings)


async def _create(stub: rpc.OrchestratorStub) -> str:
    config = S.SessionConfig(task="look", model="claude-sonnet-4-6", tool_set=S.TOOL_SET_20250124)
    request = orchestrator_pb2.CreateSessionRequest(config=config)
    return (await stub.CreateSession(request, timeout=15)).session.id


async def _session(stub: rpc.OrchestratorStub, session_id: str) -> S.Session:
    request = orchestrator_pb2.GetSessionRequest(session_id=session_id)
    return (await stub.GetSession(request, timeout=15)).session


async def _send(stub: rpc.OrchestratorStub, session_id: str, text: str) -> None:
    request = orchestrator_pb2.SendMessageRequest(session_id=session_id, text=text)
    await stub.SendMessage(request, timeout=15)


def _pid(sandbox_id: str) -> int:
    return int(sandbox_id.rsplit("-", 1)[1])


async def _until_sandbox_dropped(stub: rpc.OrchestratorStub, session_id: str) -> None:
    """Until the session's record names no sandbox (it noticed the loss or let it go)."""
    for _ in range(600):
        if not (await _session(stub, session_id)).sandbox_id:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the session still names a sandbox that is gone")


def _results(events: list[events_pb2.Event]) -> list[events_pb2.ToolResult]:
    return [e.tool_result for e in events if e.HasField("tool_result")]


def _reset_notes(stack: Stack) -> list[str]:
    """The fresh-desktop notes the model was given, in order (each in the user turn that
    ended one of its requests)."""
    turns = [request.messages[-1] for request in stack.model.message_requests]
    texts = [b.get("text", "") for turn in turns for b in turn["content"]]
    return [text for text in texts if text.startswith("This is a fresh desktop")]


async def test_a_killed_sandbox_or_display_executor_gets_the_session_a_fresh_desktop(
    orchestrator_stack, sandbox_dir: Path
) -> None:
    turns = [screenshot, Turn.text("seen"), screenshot, Turn.text("again"), screenshot,
             Turn.text("and again")]  # fmt: skip
    async with orchestrator_stack(turns) as stack:
        replica = await _local_replica(stack, sandbox_dir)
        session_id = await _create(replica.stub)
        events = await follow_events(replica.stub, session_id, waiting_input)
        first = (await _session(replica.stub, session_id)).sandbox_id

        # The display executor dies: the sandbox stops itself, and the session notices.
        os.kill(child_running(_pid(first), b"deskpilot.display"), signal.SIGKILL)
        await _until_sandbox_dropped(replica.stub, session_id)
        assert not alive(_pid(first))
        await _send(replica.stub, session_id, "look again")
        events = await follow_events(
            replica.stub, session_id, waiting_input, from_sequence=events[-1].sequence + 1
        )
        [result] = _results(events)
        assert not result.is_error and result.images  # the fresh desktop answered
        second = (await _session(replica.stub, session_id)).sandbox_id
        assert second and second != first
        [note] = _reset_notes(stack)
        assert "display-executor stopped unexpectedly" in note

        # The sandbox process itself is killed: everything it started goes with it.
        started = children(_pid(second))
        os.kill(_pid(second), signal.SIGKILL)
        assert await alive_after(started, within=60) == []
        await _until_sandbox_dropped(replica.stub, session_id)
        await _send(replica.stub, session_id, "and once more")
        events = await follow_events(
            replica.stub, session_id, waiting_input, from_sequence=events[-1].sequence + 1
        )
        [result] = _results(events)
        assert not result.is_error and result.images
        assert f"sandbox {second} was killed (SIGKILL)" in _reset_notes(stack)[-1]


async def test_past_max_sandbox_restarts_the_session_fails_with_the_reason(
    orchestrator_stack, sandbox_dir: Path
) -> None:
    async with orchestrator_stack([Turn.text("ready")]) as stack:
        replica = await _local_replica(stack, sandbox_dir, max_sandbox_restarts=0)
        session_id = await _create(replica.stub)
        events = await follow_events(replica.stub, session_id, waiting_input)
        sandbox = (await _session(replica.stub, session_id)).sandbox_id
        os.kill(_pid(sandbox), signal.SIGKILL)
        await _until_sandbox_dropped(replica.stub, session_id)
        await _send(replica.stub, session_id, "go on")
        with pytest.raises(AssertionError, match="the session ended first: SESSION_STATUS_FAILED"):
            await follow_events(
                replica.stub, session_id, waiting_input, from_sequence=events[-1].sequence + 1
            )
        failed = await _session(replica.stub, session_id)
        assert failed.status == S.SESSION_STATUS_FAILED
        assert f"(last: sandbox {sandbox} was killed (SIGKILL))" in failed.status_reason
        assert "max_sandbox_restarts" in failed.status_reason


async def test_an_idle_session_stops_its_sandbox_and_the_next_message_starts_one(
    orchestrator_stack, sandbox_dir: Path
) -> None:
    async with orchestrator_stack([Turn.text("ready"), screenshot, Turn.text("done")]) as stack:
        replica = await _local_replica(stack, sandbox_dir, idle_release_seconds=1.0)
        session_id = await _create(replica.stub)
        events = await follow_events(replica.stub, session_id, waiting_input)
        sandbox = (await _session(replica.stub, session_id)).sandbox_id
        await _until_sandbox_dropped(replica.stub, session_id)
        assert await alive_after([_pid(sandbox)], within=60) == []
        idle = await _session(replica.stub, session_id)
        assert idle.status == S.SESSION_STATUS_WAITING_INPUT
        assert "desktop was stopped after 1 s without a message" in idle.status_reason

        await _send(replica.stub, session_id, "now look")
        events = await follow_events(
            replica.stub, session_id,
            lambda e: e.HasField("tool_result"), from_sequence=events[-1].sequence + 1,
        )  # fmt: skip
        assert events[-1].tool_result.images and not events[-1].tool_result.is_error
        [note] = _reset_notes(stack)
        assert "stopped after 1 s without a message" in note


async def test_a_sandbox_lost_mid_action_fails_that_action_and_the_next_runs_on_a_fresh_one(
    orchestrator_stack, sandbox_dir: Path
) -> None:
    turns = [Turn.tool_use("bash", {"command": "sleep 60"}), screenshot, Turn.text("done")]
    async with orchestrator_stack(turns) as stack:
        replica = await _local_replica(stack, sandbox_dir)
        session_id = await _create(replica.stub)
        await follow_events(replica.stub, session_id, lambda e: e.HasField("action_proposed"))
        sandbox = (await _session(replica.stub, session_id)).sandbox_id
        await asyncio.sleep(0.5)  # let the command start in the shell executor
        os.kill(child_running(_pid(sandbox), b"deskpilot.display"), signal.SIGKILL)
        events = await follow_events(replica.stub, session_id, waiting_input)
        lost, shot = _results(events)
        assert lost.is_error and "may or may not have been performed" in lost.text
        assert "the desktop stopped (sandbox" in lost.text
        assert shot.images and not shot.is_error  # the model's next action: a fresh desktop
        assert "display-executor stopped unexpectedly" in _reset_notes(stack)[-1]
