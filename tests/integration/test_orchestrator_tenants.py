"""Who may reach which session, against a real stack (tests/fixtures/orchestrator.py):
callers without a valid token are refused on every RPC of every service, a tenant sees
and steers only its own sessions, a session-scoped token only its session, a viewer only
watches, and the names on approvals, messages and takeovers are the token's."""

from __future__ import annotations

import time

import grpc
import pytest
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

from deskpilot.common.identity import Role
from deskpilot.common.revocation import revoke
from deskpilot.common.tokens import unverified_claims
from deskpilot.standin import Turn
from deskpilot.v1 import orchestrator_pb2 as pb
from deskpilot.v1 import orchestrator_pb2_grpc as rpc
from deskpilot.v1 import safety_pb2, session_pb2
from tests.fixtures.auth import TENANT, USER, test_auth
from tests.fixtures.orchestrator import follow_events, status_is

S = session_pb2
SUDO = Turn.tool_use("bash", {"command": "sudo -n true; echo approved-run"})
SPOOFED = "someone else (spoofed)"
waiting_confirmation = status_is(S.SESSION_STATUS_WAITING_CONFIRMATION)
waiting_input = status_is(S.SESSION_STATUS_WAITING_INPUT)


async def _call(channel: grpc.aio.Channel, service, method, request: Message):
    """Call any method of a service descriptor with `request`; the reply or the stream."""
    path = f"/{service.full_name}/{method.name}"
    reply_type = GetMessageClass(method.output_type)
    if method.server_streaming:
        call = channel.unary_stream(path, lambda m: m.SerializeToString(), reply_type.FromString)
        return [item async for item in call(request, timeout=30)]
    call = channel.unary_unary(path, lambda m: m.SerializeToString(), reply_type.FromString)
    return await call(request, timeout=30)


async def _refusals(address: str, service, token: str | None) -> dict[str, tuple]:
    """Each method's (code, details) when called with `token` (None: no token at all)."""
    found = {}
    async with (
        test_auth().channel(address, token, retry=False)
        if token is not None
        else grpc.aio.insecure_channel(address)
    ) as channel:
        for method in service.methods:
            request = GetMessageClass(method.input_type)()
            try:
                await _call(channel, service, method, request)
                found[method.name] = ("OK", "")
            except grpc.aio.AioRpcError as error:
                found[method.name] = (error.code().name, error.details())
    return found


async def _create(stub: rpc.OrchestratorStub, request_id: str = "") -> S.Session:
    config = S.SessionConfig(task="work", model="claude-sonnet-4-6", tool_set=S.TOOL_SET_20250124)
    request = pb.CreateSessionRequest(config=config, request_id=request_id)
    return (await stub.CreateSession(request)).session


async def _code(call) -> grpc.StatusCode:
    """The status a refused call ends with: a unary call, or a stream read to its end."""
    with pytest.raises(grpc.aio.AioRpcError) as info:
        if hasattr(call, "__aiter__"):
            [reply async for reply in call]
        else:
            await call
    return info.value.code()


async def _ids(stub: rpc.OrchestratorStub) -> list[str]:
    return [s.id for s in (await stub.ListSessions(pb.ListSessionsRequest())).sessions]


async def _events(stub: rpc.OrchestratorStub, session_id: str) -> list:
    replay = stub.StreamEvents(pb.StreamEventsRequest(session_id=session_id))
    return [reply.event async for reply in replay]


def _resolved_by(events: list) -> list[str]:
    resolved = [e.confirmation_resolved for e in events if e.HasField("confirmation_resolved")]
    return [r.resolved_by for r in resolved]


async def _pending(stub: rpc.OrchestratorStub, session_id: str) -> str:
    await follow_events(stub, session_id, waiting_confirmation)
    got = await stub.GetSession(pb.GetSessionRequest(session_id=session_id))
    return got.session.pending_confirmation_id


async def test_every_rpc_of_every_service_refuses_a_caller_without_a_valid_token(
    orchestrator_stack,
) -> None:
    async with orchestrator_stack([Turn.text("hi")]) as stack:
        expired = test_auth().mint(ttl_seconds=60, now=time.time() - 3600)
        revoked = test_auth().mint()
        revoke(test_auth().revoked_file, unverified_claims(revoked)["jti"])
        orchestrator = pb.DESCRIPTOR.services_by_name["Orchestrator"]
        safety = safety_pb2.DESCRIPTOR.services_by_name["Safety"]
        services = {stack.replicas[0].server.address: orchestrator, stack.safety_address: safety}
        for address, service in services.items():
            for token, why in [
                (None, "no credentials"),
                ("garbage", "the token is malformed"),
                (expired, "the token expired at"),
                (revoked, "was revoked"),
            ]:
                refusals = await _refusals(address, service, token)
                assert set(refusals) == {m.name for m in service.methods}
                for name, (code, details) in refusals.items():
                    assert code == "UNAUTHENTICATED", (service.name, name, token, details)
                    assert why in details, (service.name, name, details)
        # People do not call the safety gate, not even admins: only the orchestrator does.
        admin = test_auth().mint(Role.ADMIN)
        denied = await _refusals(stack.safety_address, safety, admin)
        assert {code for code, _ in denied.values()} == {"PERMISSION_DENIED"}, denied
        # Nothing was created by any refused call.
        assert await _ids(stack.stub) == []


async def test_a_tenant_sees_and_steers_only_its_own_sessions(orchestrator_stack) -> None:
    async with orchestrator_stack([SUDO, Turn.text("done")]) as stack:
        bob = stack.stub_as(test_auth().mint(tenant="tenant-b", subject="bob"))
        alice = stack.stub  # tenant-a
        theirs = await _create(bob)
        assert (theirs.owner.tenant, theirs.owner.subject) == ("tenant-b", "bob")
        confirmation = await _pending(bob, theirs.id)

        sid = theirs.id
        calls = {
            "GetSession": alice.GetSession(pb.GetSessionRequest(session_id=sid)),
            "StreamEvents": alice.StreamEvents(pb.StreamEventsRequest(session_id=sid)),
            "SendMessage": alice.SendMessage(pb.SendMessageRequest(session_id=sid, text="hi")),
            "ResolveConfirmation": alice.ResolveConfirmation(
                pb.ResolveConfirmationRequest(
                    session_id=sid, confirmation_id=confirmation, approve=True
                )
            ),
            "Cancel": alice.Cancel(pb.CancelRequest(session_id=sid)),
            "TakeControl": alice.TakeControl(pb.TakeControlRequest(session_id=sid)),
            "ReleaseControl": alice.ReleaseControl(pb.ReleaseControlRequest(session_id=sid)),
            "DeleteSession": alice.DeleteSession(pb.DeleteSessionRequest(session_id=sid)),
        }
        for name, call in calls.items():
            # As if it did not exist: nothing tells alice that bob has this session.
            assert await _code(call) == grpc.StatusCode.NOT_FOUND, name
        assert sid not in await _ids(alice)
        got = (await bob.GetSession(pb.GetSessionRequest(session_id=sid))).session
        assert got.status == S.SESSION_STATUS_WAITING_CONFIRMATION  # untouched
        assert got.pending_confirmation_id == confirmation

        # bob approves, claiming to be someone else: the record says bob.
        await bob.ResolveConfirmation(
            pb.ResolveConfirmationRequest(
                session_id=sid, confirmation_id=confirmation, approve=True, resolved_by=SPOOFED
            )
        )
        assert _resolved_by(await follow_events(bob, sid, waiting_input)) == ["bob"]

        # The same request id in two tenants makes two sessions, not a shared one.
        mine = await _create(alice, request_id="same-id")
        other = await _create(bob, request_id="same-id")
        assert mine.id != other.id and mine.owner.tenant == TENANT
        assert (await _create(alice, request_id="same-id")).id == mine.id  # still idempotent

        # An admin (an operator) sees every tenant's sessions.
        admin = stack.stub_as(test_auth().mint(Role.ADMIN, tenant="ops", subject="root-op"))
        assert {sid, mine.id, other.id} <= set(await _ids(admin))

        # A history kept after deletion still belongs to its tenant.
        await bob.DeleteSession(pb.DeleteSessionRequest(session_id=sid, keep_history=True))
        replay = alice.StreamEvents(pb.StreamEventsRequest(session_id=sid))
        assert await _code(replay) == grpc.StatusCode.NOT_FOUND
        assert (await _events(bob, sid))[0].HasField("session_created")


async def test_a_session_scoped_token_reaches_that_session_only(orchestrator_stack) -> None:
    async with orchestrator_stack([SUDO, SUDO, Turn.text("ok")]) as stack:
        first = await _create(stack.stub)
        confirmation = await _pending(stack.stub, first.id)
        second = await _create(stack.stub)
        await _pending(stack.stub, second.id)
        scoped = stack.stub_as(test_auth().mint(subject="guest", session_id=first.id))

        got = await scoped.GetSession(pb.GetSessionRequest(session_id=first.id))
        assert got.session.id == first.id
        assert await _ids(scoped) == [first.id]
        denied = grpc.StatusCode.PERMISSION_DENIED
        assert await _code(scoped.GetSession(pb.GetSessionRequest(session_id=second.id))) == denied
        other_events = scoped.StreamEvents(pb.StreamEventsRequest(session_id=second.id))
        assert await _code(other_events) == denied
        assert await _code(scoped.Cancel(pb.CancelRequest(session_id=second.id))) == denied
        config = S.SessionConfig(task="more", model="claude-sonnet-4-6")
        new = scoped.CreateSession(pb.CreateSessionRequest(config=config))
        assert await _code(new) == denied

        # Within its session it steers as a user: the approval is recorded as its subject.
        await scoped.ResolveConfirmation(
            pb.ResolveConfirmationRequest(
                session_id=first.id, confirmation_id=confirmation, approve=True
            )
        )
        assert _resolved_by(await follow_events(scoped, first.id, waiting_input)) == ["guest"]


async def test_a_viewer_watches_but_cannot_approve_steer_or_delete(orchestrator_stack) -> None:
    async with orchestrator_stack([SUDO, Turn.text("ok")]) as stack:
        session = await _create(stack.stub)
        confirmation = await _pending(stack.stub, session.id)
        viewer = stack.stub_as(test_auth().mint(Role.VIEWER, subject="vic"))
        sid = session.id

        assert (await viewer.GetSession(pb.GetSessionRequest(session_id=sid))).session.id == sid
        assert await _ids(viewer) == [sid]
        assert (await _events(viewer, sid))[0].HasField("session_created")
        for name, call in {
            "ResolveConfirmation": viewer.ResolveConfirmation(
                pb.ResolveConfirmationRequest(
                    session_id=sid, confirmation_id=confirmation, approve=True
                )
            ),
            "Cancel": viewer.Cancel(pb.CancelRequest(session_id=sid)),
            "SendMessage": viewer.SendMessage(pb.SendMessageRequest(session_id=sid, text="x")),
            "TakeControl": viewer.TakeControl(pb.TakeControlRequest(session_id=sid)),
            "ReleaseControl": viewer.ReleaseControl(pb.ReleaseControlRequest(session_id=sid)),
            "DeleteSession": viewer.DeleteSession(pb.DeleteSessionRequest(session_id=sid)),
            "CreateSession": viewer.CreateSession(pb.CreateSessionRequest()),
        }.items():
            assert await _code(call) == grpc.StatusCode.PERMISSION_DENIED, name
        got = (await stack.stub.GetSession(pb.GetSessionRequest(session_id=sid))).session
        assert got.status == S.SESSION_STATUS_WAITING_CONFIRMATION
        assert got.pending_confirmation_id == confirmation


async def test_names_on_messages_and_takeovers_are_the_tokens(orchestrator_stack) -> None:
    async with orchestrator_stack([Turn.text("first"), Turn.text("second")]) as stack:
        session = await _create(stack.stub)
        await follow_events(stack.stub, session.id, waiting_input)
        sid = session.id
        took = await stack.stub.TakeControl(pb.TakeControlRequest(session_id=sid, by=SPOOFED))
        assert took.session.controlled_by == USER
        await stack.stub.ReleaseControl(pb.ReleaseControlRequest(session_id=sid, by=SPOOFED))
        await stack.stub.SendMessage(
            pb.SendMessageRequest(session_id=sid, text="again", author=SPOOFED)
        )

        def second_answer(event) -> bool:
            return event.HasField("model_response") and event.model_response.text == "second"

        await follow_events(stack.stub, sid, second_answer)
        replay = await _events(stack.stub, sid)
        assert [e.control_taken.by for e in replay if e.HasField("control_taken")] == [USER]
        assert [e.control_released.by for e in replay if e.HasField("control_released")] == [USER]
        authors = [e.user_message.author for e in replay if e.HasField("user_message")]
        assert authors == ["task", USER]
        assert SPOOFED not in str(replay)


async def test_commands_through_another_replica_carry_the_callers_name(
    orchestrator_stack,
) -> None:
    async with orchestrator_stack([SUDO, Turn.text("ok")]) as stack:
        await stack.add_replica()
        session = await _create(stack.stub)
        confirmation = await _pending(stack.stub, session.id)
        through = stack.stub_as(test_auth().mint(subject="carol"), replica=1)
        await through.ResolveConfirmation(
            pb.ResolveConfirmationRequest(
                session_id=session.id,
                confirmation_id=confirmation,
                approve=True,
                resolved_by=SPOOFED,
            )
        )
        events = await follow_events(stack.stub, session.id, waiting_input)
        assert _resolved_by(events) == ["carol"]


async def test_a_followed_stream_ends_when_its_token_is_revoked(orchestrator_stack) -> None:
    async with orchestrator_stack([Turn.text("first"), Turn.text("second")]) as stack:
        session = await _create(stack.stub)
        await follow_events(stack.stub, session.id, waiting_input)
        token = test_auth().mint(Role.VIEWER, subject="vic")
        viewer = stack.stub_as(token)
        follow = viewer.StreamEvents(pb.StreamEventsRequest(session_id=session.id, follow=True))
        assert (await follow.read()).event.HasField("session_created")
        revoke(test_auth().revoked_file, unverified_claims(token)["jti"], "stopped watching")
        # The session goes on; the revoked viewer sees nothing new (what was sent before
        # the revocation may still be on its way).
        await stack.stub.SendMessage(pb.SendMessageRequest(session_id=session.id, text="more"))
        with pytest.raises(grpc.aio.AioRpcError) as info:
            while True:
                reply = await follow.read()
                assert reply.event.user_message.text != "more", "a revoked viewer saw it"
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert info.value.details().endswith("was revoked")
