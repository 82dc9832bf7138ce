"""`deskpilot take`, `handback`, `cancel` and `delete` as real subprocesses against a real
orchestrator stack: each says what happened, the session changes as it says, and a
session in the wrong state for the command gets one line and exit code 1."""

from __future__ import annotations

import re

import grpc
import pytest

from deskpilot.standin import Turn
from deskpilot.v1 import orchestrator_pb2, session_pb2
from tests.fixtures.auth import test_auth
from tests.helpers.cli import run_cli

S = session_pb2
_SESSION_LINE = re.compile(r"^session (s-[0-9a-f]+) — ", re.M)


async def _waiting_session(address: str) -> str:
    """A session whose model finished its first turn: it waits for input."""
    result = await run_cli("run", "wait for me", "--orchestrator", address)
    assert result.code == 0, result.err
    match = _SESSION_LINE.search(result.out)
    assert match, result.out
    return match[1]


async def _get(stack, session_id: str) -> session_pb2.Session:
    request = orchestrator_pb2.GetSessionRequest(session_id=session_id)
    return (await stack.stub.GetSession(request)).session


async def test_take_pauses_the_agent_and_handback_tells_it_the_note(orchestrator_stack) -> None:
    turns = [Turn.text("Waiting."), Turn.text("I see what you did.")]
    async with orchestrator_stack(turns) as stack:
        address = stack.replicas[0].server.address
        session_id = await _waiting_session(address)

        ann, bob = (test_auth().mint(subject=name) for name in ("ann", "bob"))
        took = await run_cli("take", session_id, "--orchestrator", address, token=ann)
        assert took.code == 0, took.err
        assert took.out.startswith(f"ann has the desktop of session {session_id}; the agent ")
        assert f'`deskpilot handback {session_id} --note "what you did"`' in took.out
        session = await _get(stack, session_id)
        assert (session.status, session.controlled_by) == (S.SESSION_STATUS_PAUSED, "ann")
        again = await run_cli("take", session_id, "--orchestrator", address, token=bob)
        assert (again.code, again.err) == (1, "deskpilot take: ann already has control\n")

        back = await run_cli("handback", session_id, "--note", "closed the dialog",
                             "--orchestrator", address, token=ann)  # fmt: skip
        assert back.code == 0, back.err
        assert back.out.startswith(f"gave the desktop of session {session_id} back; it is "
                                   "waiting for input")  # fmt: skip
        twice = await run_cli("handback", session_id, "--orchestrator", address)
        assert (twice.code, twice.err) == (1, "deskpilot handback: nobody has taken control\n")

        watched = await run_cli("watch", session_id, "--no-follow", "--orchestrator", address)
        assert "ann took control of the desktop" in watched.out
        assert "ann gave the desktop back: closed the dialog" in watched.out
        sent = await run_cli("send", session_id, "go on", "--orchestrator", address)
        assert sent.code == 0 and "I see what you did." in sent.out
        told = str(stack.model.message_requests[-1].messages[-1])
        assert "closed the dialog" in told  # the model hears what the person did


async def test_cancel_stops_a_session_and_delete_forgets_it(orchestrator_stack) -> None:
    turns = [Turn.text("one"), Turn.text("two")]
    async with orchestrator_stack(turns) as stack:
        address = stack.replicas[0].server.address
        first = await _waiting_session(address)
        cancelled = await run_cli("cancel", first, "--reason", "enough",
                                  "--orchestrator", address)  # fmt: skip
        assert cancelled.code == 0, cancelled.err
        assert cancelled.out == (f"session {first} is cancelled; `deskpilot delete {first}` "
                                 "stops its sandbox and forgets it\n")  # fmt: skip
        session = await _get(stack, first)
        assert (session.status, session.status_reason) == (S.SESSION_STATUS_CANCELLED, "enough")
        twice = await run_cli("cancel", first, "--orchestrator", address)
        assert twice.code == 1 and twice.err.startswith("deskpilot cancel: session ")
        assert "\n" not in twice.err.rstrip("\n") and "Traceback" not in twice.err

        deleted = await run_cli("delete", first, "--orchestrator", address)
        assert (deleted.code, deleted.out) == (0, f"deleted session {first}\n")
        with pytest.raises(grpc.aio.AioRpcError) as gone:
            await _get(stack, first)
        assert gone.value.code() == grpc.StatusCode.NOT_FOUND
        replay = await run_cli("watch", first, "--no-follow", "--orchestrator", address)
        assert replay.code == 1 and "not found" in replay.err

        kept = await _waiting_session(address)
        deleted = await run_cli("delete", kept, "--keep-history", "--orchestrator", address)
        assert deleted.code == 0 and "its events are kept" in deleted.out
        replay = await run_cli("watch", kept, "--no-follow", "--orchestrator", address)
        assert replay.code == 0, replay.err
        assert "two" in replay.out and f"session {kept} created" in replay.out
        assert replay.out.endswith(f"session {kept} was deleted; this was its kept history\n")


async def test_unknown_sessions_get_one_clear_line(orchestrator_stack) -> None:
    async with orchestrator_stack([]) as stack:
        address = stack.replicas[0].server.address
        for command in ("cancel", "delete", "take", "handback"):
            unknown = await run_cli(command, "s-0123456789abcdef", "--orchestrator", address)
            assert unknown.code == 1, (command, unknown)
            assert unknown.err == f"deskpilot {command}: session s-0123456789abcdef not found\n"
