"""What the Orchestrator API answers: each command returns the session as it is after the
command, whichever replica received it (see tests/fixtures/orchestrator.py)."""

from __future__ import annotations

import pytest

from deskpilot.standin import Turn
from deskpilot.v1 import orchestrator_pb2, session_pb2
from deskpilot.v1 import orchestrator_pb2_grpc as rpc
from tests.fixtures.auth import USER
from tests.fixtures.orchestrator import Stack, follow_events, status_is

S = session_pb2


async def _create(stub: rpc.OrchestratorStub) -> S.Session:
    config = S.SessionConfig(task="do it", model="claude-sonnet-4-6", tool_set=S.TOOL_SET_20250124)
    reply = await stub.CreateSession(orchestrator_pb2.CreateSessionRequest(config=config))
    return reply.session


async def _caller(stack: Stack, through: str) -> rpc.OrchestratorStub:
    """The owner's stub, or one of a replica that must pass the command on."""
    return stack.stub if through == "owner" else (await stack.add_replica()).stub


@pytest.mark.parametrize("through", ["owner", "another replica"])
async def test_send_message_answers_with_the_session_running_on_the_message(
    orchestrator_stack, through: str
) -> None:
    async with orchestrator_stack([Turn.text("first"), Turn.text("second")]) as stack:
        caller = await _caller(stack, through)
        session = await _create(stack.stub)
        await follow_events(stack.stub, session.id, status_is(S.SESSION_STATUS_WAITING_INPUT))

        reply = await caller.SendMessage(
            orchestrator_pb2.SendMessageRequest(session_id=session.id, text="again", author="me")
        )

        assert reply.session.status == S.SESSION_STATUS_RUNNING
        assert reply.session.status_reason == ""
        events = [e async for e in stack.bus.replay_events(session.id)]
        [message] = [
            e for e in events if e.HasField("user_message") and e.user_message.author == USER
        ]
        assert reply.session.last_sequence >= message.sequence  # the message is in its history


@pytest.mark.parametrize("through", ["owner", "another replica"])
@pytest.mark.parametrize("approve", [True, False])
async def test_resolve_confirmation_answers_with_nothing_pending_any_more(
    orchestrator_stack, through: str, approve: bool
) -> None:
    turns = [Turn.tool_use("bash", {"command": "sudo -n true; echo ran"}), Turn.text("ok")]
    async with orchestrator_stack(turns) as stack:
        caller = await _caller(stack, through)
        session = await _create(stack.stub)
        events = await follow_events(
            stack.stub, session.id, lambda e: e.HasField("confirmation_requested")
        )
        confirmation_id = events[-1].confirmation_requested.confirmation_id

        reply = await caller.ResolveConfirmation(
            orchestrator_pb2.ResolveConfirmationRequest(
                session_id=session.id,
                confirmation_id=confirmation_id,
                approve=approve,
                resolved_by="bob",
            )
        )

        assert reply.session.pending_confirmation_id == ""
        assert reply.session.status == S.SESSION_STATUS_RUNNING
        events = [e async for e in stack.bus.replay_events(session.id)]
        [resolved] = [e for e in events if e.HasField("confirmation_resolved")]
        assert resolved.confirmation_resolved.approved is approve
        assert reply.session.last_sequence >= resolved.sequence


async def test_a_message_continuing_a_finished_session_answers_with_it_running(
    orchestrator_stack,
) -> None:
    """The session ended on tool results (no progress), so no replica runs it: the message
    starts it again here, and the answer shows it running, not finished."""
    stuck = Turn.tool_use("computer", {"action": "mouse_move", "coordinate": [9, 9]})
    async with orchestrator_stack([stuck] * 4 + [Turn.text("back again")]) as stack:
        session = await _create(stack.stub)
        await follow_events(stack.stub, session.id, lambda e: e.HasField("session_finished"))

        reply = await stack.stub.SendMessage(
            orchestrator_pb2.SendMessageRequest(session_id=session.id, text="try another way")
        )

        assert reply.session.status == S.SESSION_STATUS_RUNNING
        assert reply.session.status_reason == ""
