"""Against a NATS server whose max_payload is smaller than the default, requests whose
fields are each within their limit but together do not fit one NATS message are refused
up front, naming the size and the server's limit, instead of failing the session later."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from deskpilot.common.natsserver import NatsServer
from deskpilot.standin import Turn
from deskpilot.v1 import orchestrator_pb2 as pb
from deskpilot.v1 import session_pb2
from tests.fixtures.orchestrator import follow_events, status_is

S = session_pb2
MAX_PAYLOAD = 256 * 1024


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    """Replaces the shared fixture for this module: the same server, smaller messages."""
    config = tmp_path / "nats.conf"
    config.write_text(f"max_payload: {MAX_PAYLOAD}\n")
    server = NatsServer(tmp_path / "nats", extra_args=["-c", str(config)])
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _config(**fields: object) -> S.SessionConfig:
    return S.SessionConfig(model="claude-sonnet-4-6", tool_set=S.TOOL_SET_20250124, **fields)


async def test_a_config_too_big_for_one_record_is_refused(orchestrator_stack) -> None:
    async with orchestrator_stack([Turn.text("hello")]) as stack:
        # 100,000 and 50,000 characters are within the field limits, but at 2 bytes each
        # in UTF-8 the record would not fit a 256 KiB message.
        config = _config(task="é" * 100_000, system_prompt_suffix="é" * 50_000)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stack.stub.CreateSession(pb.CreateSessionRequest(config=config))
        details = info.value.details() or ""
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, details
        assert details.startswith("config: 30") and "bytes serialised" in details
        assert f"NATS messages of at most {MAX_PAYLOAD} bytes" in details
        assert list((await stack.stub.ListSessions(pb.ListSessionsRequest())).sessions) == []
        # A config that fits is accepted and runs.
        reply = await stack.stub.CreateSession(pb.CreateSessionRequest(config=_config(task="t")))
        await follow_events(stack.stub, reply.session.id, status_is(S.SESSION_STATUS_WAITING_INPUT))


async def test_a_message_too_big_for_one_event_is_refused(orchestrator_stack) -> None:
    async with orchestrator_stack([Turn.text("hello"), Turn.text("again")]) as stack:
        reply = await stack.stub.CreateSession(pb.CreateSessionRequest(config=_config(task="t")))
        session_id = reply.session.id
        await follow_events(stack.stub, session_id, status_is(S.SESSION_STATUS_WAITING_INPUT))
        # 100,000 characters is the field's limit, but 4 bytes each is 400 KB.
        request = pb.SendMessageRequest(session_id=session_id, text="😀" * 100_000, author="me")
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stack.stub.SendMessage(request)
        details = info.value.details() or ""
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, details
        assert details.startswith("text and author: 40") and str(MAX_PAYLOAD) in details
        got = await stack.stub.GetSession(pb.GetSessionRequest(session_id=session_id))
        assert got.session.status == S.SESSION_STATUS_WAITING_INPUT  # not failed
        await stack.stub.SendMessage(
            pb.SendMessageRequest(session_id=session_id, text="é" * 50_000, author="me")
        )
        await follow_events(
            stack.stub, session_id,
            lambda e: e.HasField("model_response") and e.model_response.text == "again",
        )  # fmt: skip
