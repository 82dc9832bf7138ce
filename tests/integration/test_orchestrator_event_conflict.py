"""A replica that finds events it did not write in its session's stream (another replica,
which still thought it owned the session, wrote one) stops driving the session without
recording anything: the session does not fail, and whoever owns it next continues from
the stored history, with one gap-free, duplicate-free sequence of events."""

from __future__ import annotations

import grpc
import pytest

from deskpilot.common.errors import retry_delay
from deskpilot.orchestrator.events import SessionEvents
from deskpilot.standin import Turn
from deskpilot.v1 import events_pb2, orchestrator_pb2, session_pb2
from tests.fixtures.orchestrator import follow_events, status_is

S = session_pb2
pytestmark = pytest.mark.timeout(120)


async def test_a_conflicting_writer_stops_the_replica_not_the_session(orchestrator_stack) -> None:
    async with orchestrator_stack(
        [Turn.text("ready"), Turn.text("going on"), Turn.text("and on")]
    ) as stack:
        created = await stack.stub.CreateSession(
            orchestrator_pb2.CreateSessionRequest(config=S.SessionConfig(task="wait"))
        )
        sid = created.session.id
        first = await follow_events(stack.stub, sid, status_is(S.SESSION_STATUS_WAITING_INPUT))

        # A replica that lost its lease but does not know yet writes one more event.
        stale = SessionEvents(stack.bus, sid, "replica-stale", first[-1].sequence)
        await stale.publish(0, user_message=events_pb2.UserMessage(text="late", author="x"))

        # The owner's next write meets it: the owner stops, and the session goes on. The
        # message that write carried was recorded nowhere: its sender is told so.
        send = orchestrator_pb2.SendMessageRequest(session_id=sid, text="on")
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stack.stub.SendMessage(send)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "was not delivered: send it again" in refused.value.details()
        assert retry_delay(refused.value) == 1.0  # the orchestrator answered: not a lost server
        rest = await follow_events(
            stack.stub, sid,
            lambda e: e.HasField("model_response") and e.sequence > first[-1].sequence + 1,
            from_sequence=first[-1].sequence + 1,
        )  # fmt: skip
        events = [*first, *rest]
        assert [e.sequence for e in events] == list(range(1, len(events) + 1))
        assert rest[0].producer == "replica-stale"
        assert not [e for e in rest if e.HasField("session_finished")]
        session = (
            await stack.stub.GetSession(orchestrator_pb2.GetSessionRequest(session_id=sid))
        ).session
        assert session.status != S.SESSION_STATUS_FAILED, session.status_reason

        # The replica that took the session over ran the model for the stored message:
        # the session said so, and waits for input after that turn.
        changes = [e.status_changed.to for e in rest if e.HasField("status_changed")]
        assert changes[:1] == [S.SESSION_STATUS_RUNNING]
        # Sent again, the message reaches that replica, once.
        await follow_events(stack.stub, sid, status_is(S.SESSION_STATUS_WAITING_INPUT),
                            from_sequence=rest[-1].sequence + 1)  # fmt: skip
        await stack.stub.SendMessage(send)
        after = await follow_events(
            stack.stub, sid, lambda e: e.HasField("model_response"),
            from_sequence=rest[-1].sequence + 1,
        )  # fmt: skip
        everything = [*events, *after]
        sent = [e for e in everything if e.HasField("user_message") and e.user_message.text == "on"]
        assert len(sent) == 1
