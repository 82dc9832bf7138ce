"""A full event store (a real nats-server with a JetStream storage limit): the API says so
at once, a running session holds still without losing or lying about anything, and all of
it works again once space is freed, without a restart."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from deskpilot.common.natsserver import NatsServer
from deskpilot.standin import Turn
from deskpilot.v1 import orchestrator_pb2, session_pb2
from deskpilot.v1 import orchestrator_pb2_grpc as rpc
from tests.fixtures.orchestrator import follow_events, status_is
from tests.helpers.event_store import fill_with_events

S = session_pb2
FILLER = "s-filler"


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    """The stack's nats-server, with room for 1 MB of JetStream data."""
    with NatsServer(tmp_path / "nats", max_file_store=1_000_000) as server:
        yield server


def _config() -> S.SessionConfig:
    return S.SessionConfig(task="chat", model="claude-sonnet-4-6", tool_set=S.TOOL_SET_20250124)


async def _create(stub: rpc.OrchestratorStub) -> S.Session:
    request = orchestrator_pb2.CreateSessionRequest(config=_config())
    return (await stub.CreateSession(request, timeout=15)).session


async def _get(stub: rpc.OrchestratorStub, session_id: str) -> S.Session:
    request = orchestrator_pb2.GetSessionRequest(session_id=session_id)
    return (await stub.GetSession(request, timeout=15)).session


async def _wait_until_stalled(stub: rpc.OrchestratorStub, session_id: str) -> str:
    """Until the session says it waits for space (a harmless command asks); its message."""
    probe = orchestrator_pb2.ResolveConfirmationRequest(
        session_id=session_id, confirmation_id="none", approve=False
    )
    while True:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.ResolveConfirmation(probe, timeout=15)
        if info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
            return info.value.details()
        assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION  # not stalled yet
        await asyncio.sleep(0.1)


async def test_a_full_store_is_reported_and_the_session_goes_on_once_space_is_freed(
    orchestrator_stack,
) -> None:
    async with orchestrator_stack([Turn.text("first"), Turn.text("second")]) as stack:
        session = await _create(stack.stub)
        await follow_events(stack.stub, session.id, status_is(S.SESSION_STATUS_WAITING_INPUT))
        assert await fill_with_events(stack.bus, FILLER) > 0

        with pytest.raises(grpc.aio.AioRpcError) as info:
            await _create(stack.stub)
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert info.value.details().startswith("event store full: ")
        assert (await _get(stack.stub, session.id)).status == S.SESSION_STATUS_WAITING_INPUT

        # The message is accepted; the session cannot record it, so it holds still and the
        # record keeps saying what was last true.
        await stack.stub.SendMessage(
            orchestrator_pb2.SendMessageRequest(session_id=session.id, text="more"), timeout=15
        )
        detail = await _wait_until_stalled(stack.stub, session.id)
        assert detail.startswith("event store full: ") and "holds still" in detail
        assert (await _get(stack.stub, session.id)).status == S.SESSION_STATUS_WAITING_INPUT

        # An operator deletes old events: everything goes on where it stopped.
        await stack.bus.purge_session_events(FILLER)
        events = await follow_events(
            stack.stub, session.id,
            lambda e: e.HasField("model_response") and e.model_response.text == "second",
        )  # fmt: skip
        await follow_events(stack.stub, session.id, status_is(S.SESSION_STATUS_WAITING_INPUT),
                            from_sequence=events[-1].sequence)  # fmt: skip
        events = [e async for e in stack.bus.replay_events(session.id)]
        assert [e.sequence for e in events] == list(range(1, len(events) + 1))
        messages = [e.user_message.text for e in events if e.HasField("user_message")]
        assert messages == ["chat", "more"]
        assert (await _get(stack.stub, session.id)).status == S.SESSION_STATUS_WAITING_INPUT
        assert (await _create(stack.stub)).status == S.SESSION_STATUS_STARTING


async def test_a_cancel_while_the_store_is_full_is_recorded_once_there_is_space(
    orchestrator_stack,
) -> None:
    async with orchestrator_stack([Turn.text("first")]) as stack:
        other = await stack.add_replica()
        session = await _create(stack.stub)
        await follow_events(stack.stub, session.id, status_is(S.SESSION_STATUS_WAITING_INPUT))
        await fill_with_events(stack.bus, FILLER)
        await stack.stub.SendMessage(
            orchestrator_pb2.SendMessageRequest(session_id=session.id, text="more"), timeout=15
        )
        await _wait_until_stalled(stack.stub, session.id)

        # Through the replica that does not own it: an answer, not a timeout.
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await other.stub.Cancel(
                orchestrator_pb2.CancelRequest(session_id=session.id, reason="stop"), timeout=30
            )
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "records its cancellation once there is space" in info.value.details()

        await stack.bus.purge_session_events(FILLER)
        events = await follow_events(stack.stub, session.id, status_is(S.SESSION_STATUS_CANCELLED))
        assert events[-1].status_changed.reason == "stop"
        assert (await _get(other.stub, session.id)).status == S.SESSION_STATUS_CANCELLED
