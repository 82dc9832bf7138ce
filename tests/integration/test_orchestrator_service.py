"""The Orchestrator gRPC service with real parts (see tests/fixtures/orchestrator.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest

from deskpilot.bus import ObjectNotFound
from deskpilot.standin import Turn
from deskpilot.v1 import common_pb2, orchestrator_pb2, session_pb2
from deskpilot.v1 import orchestrator_pb2_grpc as rpc
from tests.fixtures.auth import TENANT, USER
from tests.fixtures.orchestrator import follow_events, status_is

S = session_pb2
MODEL = "claude-sonnet-4-6"


def _config(task: str = "do it", **fields: object) -> S.SessionConfig:
    return S.SessionConfig(task=task, model=MODEL, tool_set=S.TOOL_SET_20250124, **fields)


async def _create(stub: rpc.OrchestratorStub, **fields: object) -> S.Session:
    request = orchestrator_pb2.CreateSessionRequest(config=_config(**fields))
    reply = await stub.CreateSession(request)
    return reply.session


async def test_a_task_using_all_three_tools(orchestrator_stack, tmp_path: Path) -> None:
    plan = str(tmp_path / "home" / "plan.txt")  # the shell executor's home in the stack
    turns = [
        Turn.tool_use("str_replace_editor",
                      {"command": "create", "path": plan, "file_text": "step one\n"}),
        Turn.tool_use("str_replace_editor",
                      {"command": "str_replace", "path": plan, "old_str": "one", "new_str": "two"}),
        Turn.tool_use("bash", {"command": f"wc -l < {plan}; cat {plan}"}),
        Turn.tool_use("computer", {"action": "screenshot"}),
        Turn.text("All done."),
    ]  # fmt: skip
    async with orchestrator_stack(turns) as stack:
        session = await _create(stack.stub)
        assert session.status == S.SESSION_STATUS_STARTING and session.id.startswith("s-")

        events = await follow_events(
            stack.stub, session.id, status_is(S.SESSION_STATUS_WAITING_INPUT)
        )
        assert (stack.shell.home / "plan.txt").read_text() == "step two\n"
        results = [e.tool_result for e in events if e.HasField("tool_result")]
        assert len(results) == 4 and not any(r.is_error for r in results)
        assert results[2].text == "1\nstep two"
        [shot] = results[3].images
        assert shot.content_type == "image/png" and shot.size > 1000
        assert await stack.bus.get_object(shot.bucket, shot.name)  # the screenshot was kept
        assert [e.sequence for e in events] == list(range(1, len(events) + 1))

        request = orchestrator_pb2.GetSessionRequest(session_id=session.id)
        got = (await stack.stub.GetSession(request)).session
        assert got.status == S.SESSION_STATUS_WAITING_INPUT and got.steps == 5
        assert got.sandbox_id == stack.endpoints.sandbox_id == "test-sandbox"
        assert got.model_is_stand_in  # the fixture's model is the stand-in, and says so
        # Which sandbox it is, but not where its executors or VNC server listen: users
        # never get those (the record keeps them).
        listed = await stack.stub.ListSessions(orchestrator_pb2.ListSessionsRequest())
        for answer in (got.SerializeToString(), listed.SerializeToString()):
            for address in (stack.endpoints.display_address, stack.endpoints.shell_address):
                assert address.encode() not in answer
        record = await stack.replicas[0].manager.store.get(session.id)
        assert record.sandbox_endpoints.shell_address == stack.endpoints.shell_address


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (_config(task=" "), "config.task is required"),
        (_config(display=common_pb2.Size(width=100, height=100)), "display 100x100 is outside"),
        (_config(limits=S.SessionLimits(max_steps=-1)), "config.limits.max_steps must be"),
        (_config(thinking_budget_tokens=10), "at least 1024"),
    ],
)
async def test_bad_create_requests_are_invalid_argument(
    orchestrator_stack, config: S.SessionConfig, message: str
) -> None:
    async with orchestrator_stack([]) as stack:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stack.stub.CreateSession(orchestrator_pb2.CreateSessionRequest(config=config))
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert message in info.value.details()


async def test_without_an_api_key_sessions_are_refused_with_instructions(
    orchestrator_stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with orchestrator_stack([]) as stack:
        monkeypatch.delenv("ANTHROPIC_API_KEY")
        keyless = await stack.add_replica()
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await _create(keyless.stub)
        assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "ANTHROPIC_API_KEY" in info.value.details()
        assert "deskpilot up --stand-in" in info.value.details()


async def test_unknown_and_malformed_sessions(orchestrator_stack) -> None:
    async with orchestrator_stack([]) as stack:
        calls = [
            (stack.stub.GetSession(orchestrator_pb2.GetSessionRequest(session_id="s-none")),
             grpc.StatusCode.NOT_FOUND, "session s-none not found"),
            (stack.stub.Cancel(orchestrator_pb2.CancelRequest(session_id="s-none")),
             grpc.StatusCode.NOT_FOUND, "not found"),
            (stack.stub.GetSession(orchestrator_pb2.GetSessionRequest(session_id="a.b")),
             grpc.StatusCode.INVALID_ARGUMENT, "a.b"),
            (stack.stub.SendMessage(orchestrator_pb2.SendMessageRequest(session_id="s-x")),
             grpc.StatusCode.INVALID_ARGUMENT, "text is required"),
            (stack.stub.ListSessions(orchestrator_pb2.ListSessionsRequest(page_size=-5)),
             grpc.StatusCode.INVALID_ARGUMENT, "page_size"),
        ]  # fmt: skip
        for call, code, text in calls:
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await call
            assert info.value.code() == code and text in info.value.details()
        stream = stack.stub.StreamEvents(orchestrator_pb2.StreamEventsRequest(session_id="s-none"))
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stream.read()
        assert info.value.code() == grpc.StatusCode.NOT_FOUND


async def test_a_confirmation_reaches_the_owner_through_another_replica(orchestrator_stack) -> None:
    turns = [Turn.tool_use("bash", {"command": "sudo -n true; echo approved-run"}), Turn.text("ok")]
    async with orchestrator_stack(turns) as stack:
        other = await stack.add_replica()
        session = await _create(stack.stub)
        events = await follow_events(
            other.stub, session.id, lambda e: e.HasField("confirmation_requested")
        )
        request = events[-1].confirmation_requested
        reply = await other.stub.ResolveConfirmation(
            orchestrator_pb2.ResolveConfirmationRequest(
                session_id=session.id,
                confirmation_id=request.confirmation_id,
                approve=True,
                resolved_by="bob",
            )
        )
        assert reply.session.id == session.id
        events = await follow_events(
            other.stub, session.id, status_is(S.SESSION_STATUS_WAITING_INPUT)
        )
        [result] = [e.tool_result for e in events if e.HasField("tool_result")]
        assert "approved-run" in result.text
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await other.stub.ResolveConfirmation(
                orchestrator_pb2.ResolveConfirmationRequest(
                    session_id=session.id, confirmation_id=request.confirmation_id, approve=True
                )
            )
        assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_messages_continue_a_session_and_cancel_ends_it(orchestrator_stack) -> None:
    async with orchestrator_stack([Turn.text("first"), Turn.text("second")]) as stack:
        session = await _create(stack.stub)
        await follow_events(stack.stub, session.id, status_is(S.SESSION_STATUS_WAITING_INPUT))
        await stack.stub.SendMessage(
            orchestrator_pb2.SendMessageRequest(session_id=session.id, text="again", author="me")
        )
        events = await follow_events(
            stack.stub, session.id, lambda e: e.HasField("model_response")
            and e.model_response.text == "second",
        )  # fmt: skip
        # The author is who the token says, not what the request claims.
        assert any(e.HasField("user_message") and e.user_message.author == USER for e in events)
        await asyncio.sleep(0)  # let the loop reach its next wait
        await follow_events(stack.stub, session.id, status_is(S.SESSION_STATUS_WAITING_INPUT))
        reply = await stack.stub.Cancel(
            orchestrator_pb2.CancelRequest(session_id=session.id, reason="enough")
        )
        assert reply.session.status == S.SESSION_STATUS_CANCELLED
        listed = await stack.stub.ListSessions(
            orchestrator_pb2.ListSessionsRequest(statuses=[S.SESSION_STATUS_CANCELLED])
        )
        assert [s.id for s in listed.sessions] == [session.id]
        await stack.stub.DeleteSession(orchestrator_pb2.DeleteSessionRequest(session_id=session.id))
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stack.stub.GetSession(orchestrator_pb2.GetSessionRequest(session_id=session.id))
        assert info.value.code() == grpc.StatusCode.NOT_FOUND


async def test_cancel_through_a_replica_that_does_not_own_the_session(orchestrator_stack) -> None:
    async with orchestrator_stack([Turn.text("waiting for you")]) as stack:
        other = await stack.add_replica()
        session = await _create(stack.stub)
        await follow_events(stack.stub, session.id, status_is(S.SESSION_STATUS_WAITING_INPUT))
        reply = await other.stub.Cancel(
            orchestrator_pb2.CancelRequest(session_id=session.id, reason="from afar"), timeout=30
        )
        assert reply.session.status == S.SESSION_STATUS_CANCELLED
        assert reply.session.status_reason == "from afar"
        got = await other.stub.GetSession(orchestrator_pb2.GetSessionRequest(session_id=session.id))
        assert got.session.status == S.SESSION_STATUS_CANCELLED


async def test_another_replica_takes_over_without_repeating_a_step(
    orchestrator_stack, tmp_path: Path
) -> None:
    log = tmp_path / "home" / "runs.log"
    turns = [
        Turn.tool_use("bash", {"command": f"echo step-one >> {log}"}),
        Turn.tool_use("bash", {"command": f"sudo -n true; echo step-two >> {log}"}),
        Turn.text("finished"),
    ]
    async with orchestrator_stack(turns) as stack:
        first = stack.replicas[0]
        session = await _create(first.stub)
        await follow_events(first.stub, session.id, lambda e: e.HasField("confirmation_requested"))
        # The owner dies while a person is being asked: its lease is never released.
        await first.manager.stop()
        second = await stack.add_replica()
        events = await follow_events(
            second.stub, session.id, lambda e: e.HasField("confirmation_requested")
            and e.producer == "replica-1",
        )  # fmt: skip
        confirmation = events[-1].confirmation_requested.confirmation_id
        await second.stub.ResolveConfirmation(
            orchestrator_pb2.ResolveConfirmationRequest(
                session_id=session.id, confirmation_id=confirmation, approve=True
            )
        )
        events = await follow_events(
            second.stub, session.id, status_is(S.SESSION_STATUS_WAITING_INPUT)
        )
        assert log.read_text() == "step-one\nstep-two\n"  # each step ran exactly once
        assert [e.sequence for e in events] == list(range(1, len(events) + 1))
        results = [e.tool_result for e in events if e.HasField("tool_result")]
        assert len(results) == 2 and not any(r.is_error for r in results)
        # The model saw a coherent conversation: both results, and a note that it resumed.
        last_request = stack.model.message_requests[-1].messages
        answered = [b["tool_use_id"] for m in last_request if m["role"] == "user"
                    for b in m["content"] if b["type"] == "tool_result"]  # fmt: skip
        assert len(answered) == len(set(answered)) == 2


async def test_racing_claims_on_one_replica_start_a_single_loop(orchestrator_stack) -> None:
    """The takeover scan and CreateSession may try to own the same session at once; only
    one loop may ever run it (two would execute every action twice)."""
    async with orchestrator_stack([Turn.text("hello")]) as stack:
        manager = stack.replicas[0].manager
        config = _config()
        config.display.width, config.display.height = 1280, 800
        record = S.SessionRecord(
            session=S.Session(
                id="s-race",
                config=config,
                status=S.SESSION_STATUS_STARTING,
                owner=S.SessionOwner(tenant=TENANT, subject=USER),
            )
        )
        await manager.store.create(record)
        claims = await asyncio.gather(
            *(manager.leases.own("s-race", resumed=False) for _ in range(5))
        )
        assert claims.count(True) >= 1
        await follow_events(stack.stub, "s-race", status_is(S.SESSION_STATUS_WAITING_INPUT))
        events = [e async for e in stack.bus.replay_events("s-race")]
        assert sum(e.HasField("model_request") for e in events) == 1
        assert len(stack.model.message_requests) == 1


async def test_deleting_with_keep_history_leaves_a_replayable_history(orchestrator_stack) -> None:
    async with orchestrator_stack([Turn.text("hi")]) as stack:
        session = await _create(stack.stub)
        await follow_events(stack.stub, session.id, status_is(S.SESSION_STATUS_WAITING_INPUT))
        await stack.stub.DeleteSession(
            orchestrator_pb2.DeleteSessionRequest(session_id=session.id, keep_history=True)
        )
        replay = stack.stub.StreamEvents(
            orchestrator_pb2.StreamEventsRequest(session_id=session.id)
        )
        kinds = [reply.event.WhichOneof("payload") async for reply in replay]
        assert kinds[0] == "session_created" and kinds[-1] == "session_finished"
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stack.stub.GetSession(orchestrator_pb2.GetSessionRequest(session_id=session.id))
        assert info.value.code() == grpc.StatusCode.NOT_FOUND


async def test_an_unchanged_screen_is_stored_once_and_dropped_with_the_history(
    orchestrator_stack,
) -> None:
    moves = [
        Turn.tool_use("computer", {"action": "mouse_move", "coordinate": [5, 5]}),
        Turn.tool_use("computer", {"action": "mouse_move", "coordinate": [7, 7]}),
        Turn.text("done"),
    ]
    async with orchestrator_stack(moves) as stack:
        session = await _create(stack.stub)
        events = await follow_events(
            stack.stub, session.id, status_is(S.SESSION_STATUS_WAITING_INPUT)
        )
        refs = [e.action_executed.screenshot for e in events if e.HasField("action_executed")]
        assert len(refs) == 2 and refs[0].sha256 == refs[1].sha256  # nothing moved on screen
        assert refs[0].name == refs[1].name  # so it was stored once
        results = [e.tool_result for e in events if e.HasField("tool_result")]
        assert [r.images[0].name for r in results] == [refs[0].name] * 2
        assert await stack.bus.get_object(refs[0].bucket, refs[0].name)
        await stack.stub.DeleteSession(orchestrator_pb2.DeleteSessionRequest(session_id=session.id))
        with pytest.raises(ObjectNotFound):
            await stack.bus.get_object(refs[0].bucket, refs[0].name)


async def test_a_finished_session_continues_with_a_new_message(orchestrator_stack) -> None:
    stuck = Turn.tool_use("computer", {"action": "mouse_move", "coordinate": [9, 9]})
    async with orchestrator_stack([stuck] * 4 + [Turn.text("back again")]) as stack:
        session = await _create(stack.stub)
        first = await follow_events(
            stack.stub, session.id, lambda e: e.HasField("session_finished")
        )
        reply = await stack.stub.SendMessage(
            orchestrator_pb2.SendMessageRequest(session_id=session.id, text="try something else")
        )
        assert reply.session.id == session.id
        events = await follow_events(
            stack.stub, session.id,
            lambda e: e.HasField("model_response") and e.model_response.text == "back again",
            from_sequence=first[-1].sequence + 1,
        )  # fmt: skip
        texts = [e.user_message.text for e in events if e.HasField("user_message")]
        assert texts[-1] == "try something else"


async def test_a_session_that_cannot_start_says_why_in_its_events(orchestrator_stack) -> None:
    async with orchestrator_stack([]) as stack:
        dead = S.SandboxEndpoints()
        dead.CopyFrom(stack.endpoints)
        dead.display_address = "127.0.0.1:1"  # nothing listens there
        broken = await stack.add_replica(endpoints=dead)
        session = await _create(broken.stub)
        events = await follow_events(
            broken.stub, session.id, lambda e: e.HasField("session_finished")
        )
        finished = events[-1].session_finished
        assert finished.status == S.SESSION_STATUS_FAILED
        assert finished.reason.startswith("could not start")
        request = orchestrator_pb2.GetSessionRequest(session_id=session.id)
        got = (await broken.stub.GetSession(request)).session
        assert got.status == S.SESSION_STATUS_FAILED
