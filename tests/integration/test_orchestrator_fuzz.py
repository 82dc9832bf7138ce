"""Generated Orchestrator requests against a real orchestrator on loopback: whatever they
hold, none is answered INTERNAL (or UNKNOWN, or left hanging)."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from google.protobuf.message import Message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deskpilot.standin import Turn
from deskpilot.v1 import common_pb2, safety_pb2, session_pb2
from deskpilot.v1 import orchestrator_pb2 as pb
from deskpilot.v1 import orchestrator_pb2_grpc as rpc
from tests.fixtures.auth import sync_channel, test_auth
from tests.fixtures.orchestrator import follow_events, status_is

S = session_pb2
BAD_CODES = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.DEADLINE_EXCEEDED}
CALL_TIMEOUT = 60.0

# The session most generated requests name.
TARGET_CONFIG = S.SessionConfig(task="t", model="claude-sonnet-4-6")
TARGET_REQUEST_ID = "fuzzed"
# Sizes around the limits and well past NATS's 1 MiB message.
_SIZES = [0, 1, 63, 64, 200, 201, 256, 10_001, 100_001, 2 * 1024 * 1024]
texts = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", " ", "\u0661\u0662", "12", "s-none", "a.b", "\x00", "claude-sonnet-4-6"]),
    st.tuples(st.sampled_from(["x", "é", "😀"]), st.sampled_from(_SIZES)).map(
        lambda t: t[0] * t[1]
    ),
)
int32s = st.integers(min_value=-(2**31), max_value=2**31 - 1)
small_ints = st.one_of(st.integers(min_value=-3, max_value=20), int32s)
policies = st.builds(
    safety_pb2.SafetyPolicy,
    allowed_domains=st.lists(texts, max_size=3),
    rules=st.lists(st.builds(safety_pb2.PolicyRule, id=texts, pattern=texts), max_size=2),
)
# Each field's generated values; a config changes one or two fields of a valid one, so
# the checks behind the first one are reached too.
CONFIG_FIELDS: dict[str, st.SearchStrategy[object]] = {
    "task": texts,
    "model": texts,
    "display": st.builds(common_pb2.Size, width=small_ints, height=small_ints),
    "tool_set": small_ints,
    "limits": st.builds(S.SessionLimits, max_steps=small_ints, max_wall_seconds=small_ints),
    "thinking_budget_tokens": small_ints,
    "system_prompt_suffix": texts,
    "safety_policy": policies,
    "sandbox_template": texts,
    "keep_recent_screenshots": small_ints,
    "max_output_tokens": small_ints,
    "labels": st.dictionaries(texts, texts, max_size=3),
}


@st.composite
def configs(draw: st.DrawFn) -> S.SessionConfig:
    config = S.SessionConfig(task="do it", model="claude-sonnet-4-6")
    for name in draw(st.sets(st.sampled_from(sorted(CONFIG_FIELDS)), min_size=1, max_size=2)):
        value = draw(CONFIG_FIELDS[name])
        if name == "labels":
            config.labels.update(value)  # type: ignore[arg-type]
        elif isinstance(value, Message):
            getattr(config, name).CopyFrom(value)
        else:
            setattr(config, name, value)
    return config


def _requests(session_id: str) -> st.SearchStrategy[tuple[str, object]]:
    ids = st.one_of(st.just(session_id), st.just(session_id), texts)
    return st.one_of(
        st.tuples(st.just("CreateSession"),
                  st.builds(pb.CreateSessionRequest, config=configs(), request_id=texts)),
        st.tuples(st.just("GetSession"), st.builds(pb.GetSessionRequest, session_id=ids)),
        st.tuples(st.just("ListSessions"), st.builds(
            pb.ListSessionsRequest, statuses=st.lists(small_ints, max_size=20),
            page_size=small_ints, page_token=texts)),
        st.tuples(st.just("SendMessage"), st.builds(
            pb.SendMessageRequest, session_id=ids, text=texts, author=texts)),
        st.tuples(st.just("StreamEvents"), st.builds(
            pb.StreamEventsRequest, session_id=ids,
            from_sequence=st.integers(min_value=0, max_value=2**64 - 1))),
        st.tuples(st.just("ResolveConfirmation"), st.builds(
            pb.ResolveConfirmationRequest, session_id=ids, confirmation_id=texts,
            approve=st.booleans(), resolved_by=texts, reason=texts)),
        st.tuples(st.just("Cancel"), st.builds(pb.CancelRequest, session_id=ids, reason=texts)),
        st.tuples(st.just("TakeControl"),
                  st.builds(pb.TakeControlRequest, session_id=ids, by=texts)),
        st.tuples(st.just("ReleaseControl"), st.builds(
            pb.ReleaseControlRequest, session_id=ids, by=texts, note=texts)),
        st.tuples(st.just("DeleteSession"), st.builds(
            pb.DeleteSessionRequest, session_id=ids, keep_history=st.booleans())),
    )  # fmt: skip


def _fuzz(address: str, session_id: str) -> set[grpc.StatusCode]:
    """Runs in a worker thread with a blocking client, while the orchestrator serves on the
    test's event loop. Returns every status code the generated requests got."""
    seen: set[grpc.StatusCode] = set()
    channel = sync_channel(address, test_auth().mint())
    stub = rpc.OrchestratorStub(channel)
    target = pb.CreateSessionRequest(config=TARGET_CONFIG, request_id=TARGET_REQUEST_ID)

    @settings(
        max_examples=250,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(_requests(session_id))
    def no_request_is_answered_internal(call: tuple[str, object]) -> None:
        method, request = call
        # The same request id brings the session back if an example deleted it.
        assert stub.CreateSession(target, timeout=CALL_TIMEOUT).session.id == session_id
        try:
            if method == "StreamEvents":  # follow is off: the replay ends
                list(stub.StreamEvents(request, timeout=CALL_TIMEOUT))
            else:
                reply = getattr(stub, method)(request, timeout=CALL_TIMEOUT)
                if method == "CreateSession" and reply.session.id != session_id:
                    # A generated config that is valid starts a session; ending it keeps
                    # the replica under max_sessions, so the target can always come back.
                    stub.DeleteSession(
                        pb.DeleteSessionRequest(session_id=reply.session.id), timeout=CALL_TIMEOUT
                    )
            seen.add(grpc.StatusCode.OK)
        except grpc.RpcError as error:
            code = error.code()  # type: ignore[attr-defined]
            seen.add(code)
            assert code not in BAD_CODES, (method, code, error.details())  # type: ignore[attr-defined]

    try:
        no_request_is_answered_internal()
    finally:
        channel.close()
    return seen


@pytest.mark.timeout(600)
async def test_no_generated_request_is_answered_internal(orchestrator_stack) -> None:
    async with orchestrator_stack([Turn.text("hello")]) as stack:
        reply = await stack.stub.CreateSession(
            pb.CreateSessionRequest(config=TARGET_CONFIG, request_id=TARGET_REQUEST_ID)
        )
        await follow_events(stack.stub, reply.session.id, status_is(S.SESSION_STATUS_WAITING_INPUT))
        seen = await asyncio.to_thread(_fuzz, stack.replicas[0].server.address, reply.session.id)
    # Some requests were answered and some refused, and none of them INTERNAL or UNKNOWN.
    assert grpc.StatusCode.OK in seen and grpc.StatusCode.INVALID_ARGUMENT in seen, seen
    assert not seen & set(BAD_CODES), seen
