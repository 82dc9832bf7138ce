"""Sandboxes are limited per replica: a session beyond the limit waits in line and its
status says why and where; a session idle for idle_release_seconds gives its sandbox back,
making room, and gets one again with its next message."""

from __future__ import annotations

import grpc
import pytest

from deskpilot.standin import Turn
from deskpilot.v1 import events_pb2, orchestrator_pb2, session_pb2
from deskpilot.v1 import orchestrator_pb2_grpc as rpc
from tests.fixtures.orchestrator import follow_events, status_is

S = session_pb2
waiting_input = status_is(S.SESSION_STATUS_WAITING_INPUT)


async def _create(stub: rpc.OrchestratorStub, task: str) -> str:
    config = S.SessionConfig(task=task, model="claude-sonnet-4-6", tool_set=S.TOOL_SET_20250124)
    request = orchestrator_pb2.CreateSessionRequest(config=config)
    return (await stub.CreateSession(request, timeout=15)).session.id


def _reasons(events: list[events_pb2.Event]) -> list[str]:
    return [e.status_changed.reason for e in events if e.HasField("status_changed")]


async def test_sessions_beyond_the_sandbox_limit_queue_and_idle_ones_make_room(
    orchestrator_stack,
) -> None:
    async with orchestrator_stack([Turn.text("done")] * 4) as stack:
        replica = await stack.add_replica(max_sandboxes=1, max_sessions=3, idle_release_seconds=1.0)
        first = await _create(replica.stub, "first")
        await follow_events(replica.stub, first, waiting_input)
        second = await _create(replica.stub, "second")
        third = await _create(replica.stub, "third")

        # Each waits its turn, saying so, until the one before it sat idle long enough.
        events = await follow_events(replica.stub, second, waiting_input)
        assert "queued: all 1 sandboxes are in use (position 1)" in _reasons(events)
        events = await follow_events(replica.stub, third, waiting_input)
        reasons = _reasons(events)
        assert "queued: all 1 sandboxes are in use (position 2)" in reasons
        assert reasons.index("queued: all 1 sandboxes are in use (position 1)") > reasons.index(
            "queued: all 1 sandboxes are in use (position 2)"
        )
        events = [e async for e in stack.bus.replay_events(first)]
        assert any("desktop was stopped after 1 s" in r for r in _reasons(events))

        # Beyond max_sessions a new session is refused, not left waiting without a word.
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await _create(replica.stub, "fourth")
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "max_sessions" in info.value.details()

        # A message brings the first session its desktop back (the local provider starts a
        # fresh one, and the model is told: see test_orchestrator_sandbox_loss).
        await replica.stub.SendMessage(
            orchestrator_pb2.SendMessageRequest(session_id=first, text="one more"), timeout=15
        )
        await follow_events(
            replica.stub, first, waiting_input, from_sequence=events[-1].sequence + 1
        )
        texts = [
            b.get("text", "") for b in stack.model.message_requests[-1].messages[-1]["content"]
        ]
        assert texts == ["one more"]  # the shared sandbox was not reset: nothing to tell
