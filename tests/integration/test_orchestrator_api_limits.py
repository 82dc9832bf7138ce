"""Every size in an Orchestrator request is checked at the API, before anything is stored
or changes: INVALID_ARGUMENT naming the field and the limit (real orchestrator, NATS,
executors and stand-in; see tests/fixtures/orchestrator.py)."""

from __future__ import annotations

import grpc
import pytest

from deskpilot.standin import Turn
from deskpilot.v1 import orchestrator_pb2 as pb
from deskpilot.v1 import orchestrator_pb2_grpc as rpc
from deskpilot.v1 import safety_pb2, session_pb2
from tests.fixtures.auth import USER
from tests.fixtures.orchestrator import follow_events, status_is

S = session_pb2
MODEL = "claude-sonnet-4-6"
HUGE = "x" * (2 * 1024 * 1024)  # 2 MiB: over NATS's default max_payload of 1 MiB


def _config(**fields: object) -> S.SessionConfig:
    values: dict[str, object] = {"task": "do it", "model": MODEL, "tool_set": S.TOOL_SET_20250124}
    values.update(fields)
    return S.SessionConfig(**values)


async def _rejected(call: object, *expected: str) -> str:
    """Await `call`, which must fail with INVALID_ARGUMENT whose details hold `expected`."""
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call  # type: ignore[misc]
    details = info.value.details() or ""
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (info.value.code(), details)
    for text in expected:
        assert text in details, details
    assert len(details) < 1000  # the error never echoes the oversized value
    return details


async def _waiting_session(stub: rpc.OrchestratorStub) -> S.Session:
    reply = await stub.CreateSession(pb.CreateSessionRequest(config=_config()))
    await follow_events(stub, reply.session.id, status_is(S.SESSION_STATUS_WAITING_INPUT))
    return reply.session


CREATE_CASES = {
    "system_prompt_suffix": (
        pb.CreateSessionRequest(config=_config(system_prompt_suffix=HUGE)),
        ("config.system_prompt_suffix is 2097152 characters", "the limit is 50000"),
    ),
    "label value": (
        pb.CreateSessionRequest(config=_config(labels={"team": HUGE})),
        ("config.labels['team'] is 2097152 characters", "the limit is 256"),
    ),
    "label key": (
        pb.CreateSessionRequest(config=_config(labels={HUGE: "x"})),
        ("config.labels has a key of 2097152 characters", "the limit is 63"),
    ),
    "label count": (
        pb.CreateSessionRequest(config=_config(labels={f"k{i}": "v" for i in range(65)})),
        ("config.labels has 65 entries", "the limit is 64"),
    ),
    "task": (
        pb.CreateSessionRequest(config=_config(task=HUGE)),
        ("config.task is 2097152 characters", "the limit is 100000"),
    ),
    "model": (
        pb.CreateSessionRequest(config=_config(model=HUGE)),
        ("config.model is 2097152 characters", "the limit is 200"),
    ),
    "sandbox_template": (
        pb.CreateSessionRequest(config=_config(sandbox_template=HUGE)),
        ("config.sandbox_template is 2097152 characters", "the limit is 253"),
    ),
    "request_id": (
        pb.CreateSessionRequest(config=_config(), request_id=HUGE),
        ("request_id is 2097152 characters", "the limit is 200"),
    ),
    "policy domains": (
        pb.CreateSessionRequest(
            config=_config(safety_policy=safety_pb2.SafetyPolicy(allowed_domains=["a.com"] * 201))
        ),
        ("config.safety_policy.allowed_domains has 201 entries", "the limit is 200"),
    ),
    "policy rule pattern": (
        pb.CreateSessionRequest(
            config=_config(
                safety_policy=safety_pb2.SafetyPolicy(
                    rules=[safety_pb2.PolicyRule(id="ok"), safety_pb2.PolicyRule(pattern=HUGE)]
                )
            )
        ),
        ("config.safety_policy.rules[1].pattern is 2097152 characters", "the limit is 1000"),
    ),
}


async def test_oversized_create_requests_are_refused_and_store_nothing(orchestrator_stack) -> None:
    async with orchestrator_stack([]) as stack:
        for name, (request, expected) in CREATE_CASES.items():
            try:
                await _rejected(stack.stub.CreateSession(request), *expected)
            except AssertionError as failure:
                raise AssertionError(f"{name}: {failure}") from None
        listed = await stack.stub.ListSessions(pb.ListSessionsRequest())
        assert list(listed.sessions) == []


async def test_an_oversized_message_is_refused_and_the_session_keeps_waiting(
    orchestrator_stack,
) -> None:
    async with orchestrator_stack([Turn.text("first"), Turn.text("second")]) as stack:
        session = await _waiting_session(stack.stub)
        send = stack.stub.SendMessage
        await _rejected(
            send(pb.SendMessageRequest(session_id=session.id, text="hi", author=HUGE)),
            "author is 2097152 characters; the limit is 200",
        )
        await _rejected(
            send(pb.SendMessageRequest(session_id=session.id, text=HUGE)),
            "text is 2097152 characters; the limit is 100000",
        )
        got = await stack.stub.GetSession(pb.GetSessionRequest(session_id=session.id))
        assert got.session.status == S.SESSION_STATUS_WAITING_INPUT
        # Nothing of the refused messages reached the session: the next one works.
        await send(pb.SendMessageRequest(session_id=session.id, text="again", author="me"))
        events = await follow_events(
            stack.stub, session.id,
            lambda e: e.HasField("model_response") and e.model_response.text == "second",
        )  # fmt: skip
        # Recorded under the token's subject, whatever the request's author says.
        assert [e.user_message.author for e in events if e.HasField("user_message")] == [
            "task",
            USER,
        ]


async def test_an_oversized_release_note_changes_nothing(orchestrator_stack) -> None:
    async with orchestrator_stack([Turn.text("first")]) as stack:
        session = await _waiting_session(stack.stub)
        await _rejected(
            stack.stub.TakeControl(pb.TakeControlRequest(session_id=session.id, by=HUGE)),
            "by is 2097152 characters; the limit is 200",
        )
        await stack.stub.TakeControl(pb.TakeControlRequest(session_id=session.id, by="ana"))
        await _rejected(
            stack.stub.ReleaseControl(
                pb.ReleaseControlRequest(session_id=session.id, by="ana", note=HUGE)
            ),
            "note is 2097152 characters; the limit is 10000",
        )
        got = (await stack.stub.GetSession(pb.GetSessionRequest(session_id=session.id))).session
        assert got.status == S.SESSION_STATUS_PAUSED and got.controlled_by == USER
        replay = stack.stub.StreamEvents(pb.StreamEventsRequest(session_id=session.id))
        assert not [r async for r in replay if r.event.HasField("control_released")]
        released = await stack.stub.ReleaseControl(
            pb.ReleaseControlRequest(session_id=session.id, by="ana", note="moved the window")
        )
        assert released.session.status == S.SESSION_STATUS_WAITING_INPUT
        assert released.session.controlled_by == ""


async def test_every_other_request_field_is_bounded(orchestrator_stack) -> None:
    async with orchestrator_stack([Turn.text("first")]) as stack:
        session = await _waiting_session(stack.stub)
        sid, stub = session.id, stack.stub
        cases = [
            (stub.GetSession(pb.GetSessionRequest(session_id=HUGE)),
             "session_id is 2097152 characters; the limit is 256"),
            (stub.DeleteSession(pb.DeleteSessionRequest(session_id=HUGE)),
             "session_id is 2097152 characters"),
            (stub.Cancel(pb.CancelRequest(session_id=sid, reason=HUGE)),
             "reason is 2097152 characters; the limit is 2000"),
            (stub.ResolveConfirmation(pb.ResolveConfirmationRequest(
                session_id=sid, confirmation_id=HUGE)),
             "confirmation_id is 2097152 characters; the limit is 64"),
            (stub.ResolveConfirmation(pb.ResolveConfirmationRequest(
                session_id=sid, confirmation_id="c", resolved_by=HUGE)),
             "resolved_by is 2097152 characters; the limit is 200"),
            (stub.ResolveConfirmation(pb.ResolveConfirmationRequest(
                session_id=sid, confirmation_id="c", reason=HUGE)),
             "reason is 2097152 characters; the limit is 10000"),
            (stub.ListSessions(pb.ListSessionsRequest(statuses=[1] * 17)),
             "statuses has 17 entries; the limit is 16"),
            (stub.ListSessions(pb.ListSessionsRequest(statuses=[99])),
             "statuses[0] is 99, not a SessionStatus"),
            (stub.ListSessions(pb.ListSessionsRequest(page_token=HUGE)),
             "page_token is 2097152 characters; the limit is 20"),
        ]  # fmt: skip
        for call, expected in cases:
            await _rejected(call, expected)
        stream = stub.StreamEvents(pb.StreamEventsRequest(session_id=HUGE))
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stream.read()
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "session_id is 2097152 characters" in (info.value.details() or "")
        got = (await stub.GetSession(pb.GetSessionRequest(session_id=sid))).session
        assert got.status == S.SESSION_STATUS_WAITING_INPUT  # the refused Cancel did nothing


async def test_page_tokens_are_ascii_digits_only_and_pages_follow_each_other(
    orchestrator_stack,
) -> None:
    async with orchestrator_stack([]) as stack:
        created = []
        for number in range(3):
            reply = await stack.stub.CreateSession(
                pb.CreateSessionRequest(config=_config(), request_id=f"page-{number}")
            )
            created.append(reply.session.id)
        # Unicode digits pass str.isdigit and int() reads them (Arabic-Indic 1, 2 and 12,
        # fullwidth 1); none is a token we wrote.
        unicode_digits = ["\u0661", "\u0662", "\u0661\u0662", "\uff11"]
        for token in [*unicode_digits, "0x1", " 1", "1 ", "-1", "+1", "1e3", "1_0"]:
            await _rejected(
                stack.stub.ListSessions(pb.ListSessionsRequest(page_size=1, page_token=token)),
                "page_token is not one this service returned",
            )
        seen, token = [], ""
        while True:
            request = pb.ListSessionsRequest(page_size=2, page_token=token)
            page = await stack.stub.ListSessions(request)
            seen += [s.id for s in page.sessions]
            token = page.next_page_token
            if not token:
                break
        assert sorted(seen) == sorted(created)


async def test_a_page_of_large_sessions_fits_a_default_client(orchestrator_stack) -> None:
    async with orchestrator_stack([]) as stack:
        task = "\U0001f600" * 100_000  # the longest task, 400 KB in UTF-8
        for number in range(12):  # 4.8 MB of sessions: over a client's default 4 MiB
            request = pb.CreateSessionRequest(config=_config(task=task), request_id=f"big-{number}")
            await stack.stub.CreateSession(request)
        seen, token, pages = [], "", 0
        while True:
            page = await stack.stub.ListSessions(pb.ListSessionsRequest(page_token=token))
            assert page.ByteSize() < 4 * 1024 * 1024
            seen += [s.id for s in page.sessions]
            pages, token = pages + 1, page.next_page_token
            if not token:
                break
        assert len(set(seen)) == 12 and pages == 2
