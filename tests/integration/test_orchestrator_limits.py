"""A session's limits: the operator's settings are the defaults and the maxima, a session
may ask for less, and reaching a limit ends the session saying which (see
tests/fixtures/orchestrator.py for the stack)."""

from __future__ import annotations

import grpc
import pytest

from deskpilot.standin import Turn
from deskpilot.v1 import events_pb2, orchestrator_pb2, session_pb2
from deskpilot.v1 import orchestrator_pb2_grpc as rpc
from tests.fixtures.orchestrator import follow_events

S = session_pb2


async def _create(stub: rpc.OrchestratorStub, limits: S.SessionLimits) -> S.Session:
    config = S.SessionConfig(
        task="t", model="claude-sonnet-4-6", tool_set=S.TOOL_SET_20250124, limits=limits
    )
    reply = await stub.CreateSession(orchestrator_pb2.CreateSessionRequest(config=config))
    return reply.session


async def _finished(stub: rpc.OrchestratorStub, session_id: str) -> events_pb2.SessionFinished:
    events = await follow_events(stub, session_id, lambda e: e.HasField("session_finished"))
    return events[-1].session_finished


def _bash(command: str) -> Turn:
    return Turn.tool_use("bash", {"command": command})


async def test_a_session_asking_for_fewer_steps_stops_there_saying_why(orchestrator_stack) -> None:
    async with orchestrator_stack([_bash("echo 1"), _bash("echo 2"), _bash("echo 3")]) as stack:
        session = await _create(stack.stub, S.SessionLimits(max_steps=2))
        assert session.config.limits.max_steps == 2

        finished = await _finished(stack.stub, session.id)

        assert finished.status == S.SESSION_STATUS_FINISHED
        assert finished.reason == "max_steps reached (2)"
        assert finished.steps == 2 and len(stack.model.message_requests) == 2
        got = await stack.stub.GetSession(orchestrator_pb2.GetSessionRequest(session_id=session.id))
        assert got.session.status_reason == "max_steps reached (2)"


async def test_a_session_asking_for_more_than_the_operator_allows_gets_the_operators_limits(
    orchestrator_stack,
) -> None:
    turns = [_bash("echo 1"), _bash("echo 2"), _bash("echo 3"), _bash("echo 4")]
    async with orchestrator_stack(turns) as stack:
        strict = await stack.add_replica(max_steps=3, no_progress_repeats=3, max_tokens=900_000)
        session = await _create(
            strict.stub, S.SessionLimits(max_steps=50, no_progress_repeats=10, max_wall_seconds=60)
        )

        limits = session.config.limits
        assert (limits.max_steps, limits.no_progress_repeats) == (3, 3)  # lowered
        assert limits.max_wall_seconds == 60  # asked for less than the operator's
        assert limits.max_tokens == 900_000  # not asked: the operator's
        assert limits.bash_timeout_seconds == 120  # today's default
        finished = await _finished(strict.stub, session.id)
        assert finished.reason == "max_steps reached (3)"


async def test_a_sessions_bash_timeout_stops_a_long_command(orchestrator_stack, tmp_path) -> None:
    marker = tmp_path / "home" / "late"
    turns = [_bash(f"sleep 30 && touch {marker}"), Turn.text("ok")]
    async with orchestrator_stack(turns) as stack:
        session = await _create(stack.stub, S.SessionLimits(bash_timeout_seconds=1))

        events = await follow_events(stack.stub, session.id, lambda e: e.HasField("tool_result"))

        result = events[-1].tool_result
        assert result.is_error and "timed out after 1 s" in result.text
        assert not marker.exists()


async def test_the_same_action_twice_ends_a_session_asking_for_two_repeats(
    orchestrator_stack,
) -> None:
    repeat = Turn.tool_use("computer", {"action": "mouse_move", "coordinate": [5, 5]})
    async with orchestrator_stack([repeat] * 6) as stack:
        session = await _create(stack.stub, S.SessionLimits(no_progress_repeats=2))

        finished = await _finished(stack.stub, session.id)

        assert finished.status == S.SESSION_STATUS_FINISHED
        assert finished.reason == "no progress: the same action ran 2 times on an unchanged screen"
        assert finished.steps == 2


@pytest.mark.parametrize(
    ("limits", "field"),
    [
        (S.SessionLimits(no_progress_repeats=1), "config.limits.no_progress_repeats"),
        (S.SessionLimits(bash_timeout_seconds=-5), "config.limits.bash_timeout_seconds"),
        (S.SessionLimits(max_tokens=-1), "config.limits.max_tokens"),
    ],
)
async def test_limits_a_session_may_not_ask_for_are_invalid_argument(
    orchestrator_stack, limits: S.SessionLimits, field: str
) -> None:
    async with orchestrator_stack([]) as stack:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await _create(stack.stub, limits)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field in info.value.details()
        listed = await stack.stub.ListSessions(orchestrator_pb2.ListSessionsRequest())
        assert not listed.sessions  # nothing was stored
