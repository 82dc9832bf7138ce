"""`deskpilot send` and `deskpilot chat` as real subprocesses against a real orchestrator
stack (tests/fixtures/orchestrator.py): a follow-up message and its turn, a chat that
starts or attaches to a session, confirmations in a chat, leaving and Ctrl-C."""

from __future__ import annotations

import re
import signal

from deskpilot.standin import Turn
from deskpilot.v1 import orchestrator_pb2, session_pb2
from tests.helpers.cli import Follower, OnTerminal, run_cli

S = session_pb2
_SESSION = re.compile(r"\bsession (s-[0-9a-f]+)\b")


def _session_id(out: str) -> str:
    match = _SESSION.search(out)
    assert match, out
    return match[1]


async def _status(stack, session_id: str) -> session_pb2.Session:
    request = orchestrator_pb2.GetSessionRequest(session_id=session_id)
    return (await stack.stub.GetSession(request)).session


async def test_send_continues_a_session_and_shows_the_turn_it_starts(orchestrator_stack) -> None:
    turns = [
        Turn.text("What next?"),
        Turn.tool_use("bash", {"command": "echo second-turn"}, text="On it."),
        Turn.text("Done again."),
    ]
    async with orchestrator_stack(turns) as stack:
        address = stack.replicas[0].server.address
        first = await run_cli("run", "start", "--orchestrator", address)
        assert first.code == 0, first.err
        session_id = _session_id(first.out)
        assert f"`deskpilot send {session_id} TEXT`" in first.out  # run says how to go on

        sent = await run_cli("send", session_id, "now echo",
                             "--orchestrator", address)  # fmt: skip
        assert sent.code == 0, sent.err
        shown = [
            "tester: now echo",
            "On it.",
            "[step 2] bash $ echo second-turn  → allow",
            "  result: second-turn",
            "Done again.",
            f"{session_id}: waiting for input (the model finished its turn) · 3 steps",
        ]
        positions = [sent.out.index(line) for line in shown]
        assert positions == sorted(positions), sent.out
        assert "What next?" not in sent.out  # only the turn the message started
        assert sent.out.startswith("model: Messages API STAND-IN")
        assert (await _status(stack, session_id)).status == S.SESSION_STATUS_WAITING_INPUT

        empty = await run_cli("send", session_id, "  ", "--orchestrator", address)
        assert (empty.code, empty.err) == (2, "deskpilot send: TEXT is empty: say what the "
                                              "model should do next\n")  # fmt: skip
        unknown = await run_cli("send", "s-0123456789abcdef", "hi", "--orchestrator", address)
        assert unknown.code == 1
        assert unknown.err == "deskpilot send: session s-0123456789abcdef not found\n"


async def test_chat_starts_a_session_and_sends_each_line_typed(orchestrator_stack) -> None:
    turns = [
        Turn.text("Hello! What shall I do?"),
        Turn.tool_use("bash", {"command": "echo typed-by-you"}),
        Turn.text("Echoed it."),
    ]
    async with orchestrator_stack(turns) as stack:
        address = stack.replicas[0].server.address
        chat = await Follower.start("chat", "greet me",
                                    "--orchestrator", address, stdin=True)  # fmt: skip
        await chat.until("you> ")
        assert "Hello! What shall I do?" in chat.out
        await chat.type("  ")  # nothing typed: asked again, nothing sent
        await chat.until("you> ", count=2)
        await chat.type("run the echo")
        await chat.until("Echoed it.")
        await chat.until("you> ", count=3)
        chat.end_input()
        result = await chat.finish()
        assert result.code == 0, result.err
        session_id = _session_id(result.out)
        lines = [
            "task: greet me",
            "Hello! What shall I do?",
            "you> run the echo",  # what was read is shown (a pipe does not echo)
            "tester: run the echo",
            "[step 2] bash $ echo typed-by-you  → allow",
            "  result: typed-by-you",
            "Echoed it.",
            f"left the chat; session {session_id} stays open (waiting for input): "
            f"`deskpilot chat --session {session_id}` comes back to it",
        ]
        missing = [line for line in lines if line not in result.out]
        assert not missing, result.out
        positions = [result.out.index(line) for line in lines]
        assert positions == sorted(positions), result.out
        session = await _status(stack, session_id)
        assert session.status == S.SESSION_STATUS_WAITING_INPUT and session.steps == 3
        assert len(stack.model.message_requests) == 3


async def test_chat_without_a_task_asks_for_it_first(orchestrator_stack) -> None:
    async with orchestrator_stack([Turn.text("Hi there.")]) as stack:
        address = stack.replicas[0].server.address
        chat = await Follower.start("chat", "--orchestrator", address, stdin=True)
        await chat.until("you> ")
        assert chat.out.startswith("what should the agent do?")
        await chat.type("say hi")
        await chat.until("Hi there.")
        chat.end_input()
        result = await chat.finish()
        assert result.code == 0, result.err
        assert "task: say hi" in result.out and "left the chat" in result.out
        session = await _status(stack, _session_id(result.out))
        assert session.config.task == "say hi"


async def test_chat_attaches_to_a_session_and_exit_leaves_it_open(orchestrator_stack) -> None:
    turns = [Turn.text("First answer."), Turn.text("Second answer."), Turn.text("Third.")]
    async with orchestrator_stack(turns) as stack:
        address = stack.replicas[0].server.address
        first = await run_cli("run", "begin", "--orchestrator", address)
        session_id = _session_id(first.out)
        # TASK with --session is the session's next message; then `exit` leaves.
        chat = await Follower.start("chat", "go on", "--session", session_id,
                                    "--orchestrator", address, stdin=True)  # fmt: skip
        await chat.until("Second answer.")
        await chat.until("you> ")
        await chat.type("exit")
        result = await chat.finish()
        assert result.code == 0, result.err
        assert "First answer." in result.out  # the session so far is shown first
        assert result.out.index("First answer.") < result.out.index("Second answer.")
        assert "stays open" in result.out and "Third." not in result.out
        again = await Follower.start("chat", "--session", session_id,
                                     "--orchestrator", address, stdin=True)  # fmt: skip
        await again.until("you> ")
        await again.type("last one")
        await again.until("Third.")
        again.end_input()
        assert (await again.finish()).code == 0
        assert (await _status(stack, session_id)).steps == 3


async def test_chat_on_a_terminal_asks_for_confirmations_and_ctrl_d_leaves(
    orchestrator_stack,
) -> None:
    turns = [Turn.tool_use("bash", {"command": "sudo -n true; echo chat-approved"}),
             Turn.text("ran it")]  # fmt: skip
    async with orchestrator_stack(turns) as stack:
        address = stack.replicas[0].server.address
        command = ("chat", "use sudo", "--orchestrator", address)
        async with OnTerminal.running(*command) as chat:
            await chat.until("Approve? [y/N] ")
            chat.type(b"y\n")
            await chat.until("ran it")
            await chat.until("you> ")
            chat.type(b"\x04")  # Ctrl-D
            await chat.until("left the chat")
            assert await chat.exit_code() == 0
        seen = chat.seen
        assert "approved by tester" in seen and "chat-approved" in seen


async def test_ctrl_c_in_a_chat_while_the_model_works_cancels_the_session(
    orchestrator_stack,
) -> None:
    turns = [Turn.tool_use("bash", {"command": "sudo -n true"}), Turn.text("never reached")]
    async with orchestrator_stack(turns) as stack:
        address = stack.replicas[0].server.address
        chat = await Follower.start("chat", "wait for me", "--orchestrator", address, stdin=True)
        session_id = _session_id(await chat.until("in another terminal"))
        chat.process.send_signal(signal.SIGINT)
        result = await chat.finish()
        assert result.code == 130, result.err
        assert "interrupted: cancelling the session" in result.out
        assert f"{session_id}: cancelled (Ctrl-C in deskpilot chat)" in result.out
        assert (await _status(stack, session_id)).status == S.SESSION_STATUS_CANCELLED
