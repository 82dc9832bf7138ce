"""The `deskpilot` session commands as real subprocesses against a real orchestrator stack
(tests/fixtures/orchestrator.py): run, watch, sessions, approve, deny, errors, Ctrl-C."""

from __future__ import annotations

import re
import signal

from deskpilot.standin import Turn
from deskpilot.v1 import orchestrator_pb2, session_pb2
from tests.helpers.cli import Follower, OnTerminal, run_cli

S = session_pb2
_SESSION_LINE = re.compile(r"^session (s-[0-9a-f]+) — ", re.M)


def _session_id(out: str) -> str:
    match = _SESSION_LINE.search(out)
    assert match, out
    return match[1]


async def test_run_shows_each_step_then_watch_replays_it_and_sessions_lists_it(
    orchestrator_stack,
) -> None:
    turns = [
        Turn.failure(529),  # the model is busy once: the run shows the retry
        Turn.tool_use("bash", {"command": "echo hello-from-bash"}, text="Checking the shell."),
        Turn.tool_use("computer", {"action": "left_click", "coordinate": [300, 200]}),
        Turn.text("All done."),
    ]
    async with orchestrator_stack(turns) as stack:
        address = stack.replicas[0].server.address
        run = await run_cli("run", "say hello", "--orchestrator", address, "--tool-set", "20250124",
                         "--display", "1024x768", "--max-steps", "10")  # fmt: skip
        assert run.code == 0, run.err
        assert run.out.startswith("model: Messages API STAND-IN (scripted demo, not Claude)\n")
        session_id = _session_id(run.out)
        step_lines = [
            "Checking the shell.",
            "[step 1] bash $ echo hello-from-bash  → allow",
            "  result: hello-from-bash",
            "[step 2] computer left_click (300, 200)  → allow",
            "All done.",
        ]
        assert "model busy (529 overloaded_error), retrying in " in run.out
        positions = [run.out.index(line) for line in step_lines]
        assert positions == sorted(positions), run.out
        assert re.search(r"  result: \(screenshot, \d+ KiB\)", run.out)
        summary = run.out.strip().splitlines()[-2]
        assert summary.startswith(f"{session_id}: waiting for input (the model finished its turn)")
        # The stand-in answers: every line says so, and nothing is priced.
        assert " · 3 steps · " in summary and summary.endswith("tokens · no cost (stand-in)")
        assert "[step 1] asking the stand-in (as claude-sonnet-4-6) (" in run.out
        assert "$" not in run.out.replace("bash $ ", "")

        got = await stack.stub.GetSession(orchestrator_pb2.GetSessionRequest(session_id=session_id))
        assert got.session.config.display.width == 1024
        assert got.session.config.limits.max_steps == 10
        assert got.session.config.tool_set == S.TOOL_SET_20250124

        watch = await run_cli("watch", session_id, "--no-follow", "--orchestrator", address)
        assert watch.code == 0, watch.err
        for line in step_lines:
            assert line in watch.out
        assert watch.out.startswith("model: Messages API STAND-IN")
        assert f"session {session_id} created" in watch.out

        listed = await run_cli("sessions", "--orchestrator", address)
        assert listed.code == 0 and listed.out.split()[:6] == [
            "ID", "STATUS", "STEPS", "COST", "CREATED", "TASK"]  # fmt: skip
        [row] = listed.out.strip().splitlines()[1:]
        assert row.startswith(session_id) and "waiting for input (stand-in)" in row
        assert "$" not in row and " stand-in " in row.replace("(stand-in)", "")
        assert row.endswith("say hello")
        running = await run_cli("sessions", "--status", "running", "--orchestrator", address)
        assert running.code == 0 and session_id not in running.out

        # Following a session that waits for input goes on until Ctrl-C, which only
        # stops the watching.
        follower = await Follower.start("watch", session_id, "--orchestrator", address)
        await follower.until("status → waiting for input")
        follower.process.send_signal(signal.SIGINT)
        watched = await follower.finish()
        assert watched.code == 0 and "stopped watching; the session goes on" in watched.out
        got = await stack.stub.GetSession(orchestrator_pb2.GetSessionRequest(session_id=session_id))
        assert got.session.status == S.SESSION_STATUS_WAITING_INPUT


async def test_confirmations_are_approved_and_denied_from_another_terminal(
    orchestrator_stack,
) -> None:
    turns = [
        Turn.tool_use("bash", {"command": "sudo -n true; echo approved-run"}),
        Turn.text("ran it"),
        Turn.tool_use("bash", {"command": "sudo -n true; echo denied-run"}),
        Turn.text("skipped it"),
    ]
    async with orchestrator_stack(turns) as stack:
        address = stack.replicas[0].server.address
        for verb, extra in (("approve", ()), ("deny", ("--reason", "not today"))):
            follower = await Follower.start("run", "use sudo", "--orchestrator", address)
            out = await follower.until("in another terminal")
            session_id = _session_id(out)
            assert "⚠ confirm: bash $ sudo -n true; echo" in out
            assert f"`deskpilot approve {session_id}`" in out
            decided = await run_cli(verb, session_id, *extra, "--orchestrator", address)
            assert decided.code == 0, decided.err
            assert session_id in decided.out
            result = await follower.finish()
            assert result.code == 0, result.err
            if verb == "approve":
                assert "✓ approved by" in result.out and "result: approved-run" in result.out
            else:
                assert "✗ denied by" in result.out and ": not today" in result.out
                assert "denied-run" not in result.out.split("✗ denied by")[1]
            # Nothing waits any more: a second decision is refused with a reason.
            again = await run_cli(verb, session_id, "--orchestrator", address)
            assert again.code == 1
            assert "has no action waiting for confirmation" in again.err


async def test_bad_input_and_unknown_sessions_get_one_clear_line(orchestrator_stack) -> None:
    async with orchestrator_stack([]) as stack:
        address = stack.replicas[0].server.address
        small = await run_cli("run", "x", "--display", "10x10", "--orchestrator", address)
        assert (small.code, small.out) == (2, "")
        assert small.err == "deskpilot run: config.display 10x10 is outside 640x480..3840x2160\n"
        malformed = await run_cli("run", "x", "--display", "wide", "--orchestrator", address)
        assert malformed.code == 2 and "--display must look like 1280x800" in malformed.err
        for command in ("watch", "approve", "deny"):
            unknown = await run_cli(command, "s-0123456789abcdef", "--orchestrator", address)
            assert unknown.code == 1
            assert unknown.err == f"deskpilot {command}: session s-0123456789abcdef not found\n"
        bad_address = await run_cli("sessions", "--orchestrator", "nowhere")
        assert bad_address.code == 2 and "invalid setting orchestrator" in bad_address.err
        for result in (small, malformed, unknown, bad_address):
            assert "Traceback" not in result.err


async def test_ctrl_c_cancels_the_session(orchestrator_stack) -> None:
    turns = [Turn.tool_use("bash", {"command": "sudo -n true"}), Turn.text("never reached")]
    async with orchestrator_stack(turns) as stack:
        address = stack.replicas[0].server.address
        follower = await Follower.start("run", "wait for me", "--orchestrator", address)
        session_id = _session_id(await follower.until("in another terminal"))
        follower.process.send_signal(signal.SIGINT)
        result = await follower.finish()
        assert result.code == 130, result.err
        assert "interrupted: cancelling the session" in result.out
        assert f"{session_id}: cancelled" in result.out
        got = await stack.stub.GetSession(orchestrator_pb2.GetSessionRequest(session_id=session_id))
        assert got.session.status == S.SESSION_STATUS_CANCELLED


async def test_on_a_terminal_run_asks_and_a_yes_approves(orchestrator_stack) -> None:
    turns = [Turn.tool_use("bash", {"command": "sudo -n true; echo yes-run"}), Turn.text("ok")]
    async with orchestrator_stack(turns) as stack:
        address = stack.replicas[0].server.address
        command = ("run", "ask me", "--orchestrator", address)
        async with OnTerminal.running(*command) as run:
            await run.until("Approve? [y/N] ")
            assert "\x1b[" in run.seen  # a terminal gets colour
            # The status line that follows the question goes above it, and the question
            # is asked again as the last line (it used to land after the question's text).
            await run.until("waiting for confirmation")
            await run.until(
                "waiting for confirmation: an action needs approval\x1b[0m\r\nApprove? [y/N] "
            )
            assert re.findall(r"Approve\? \[y/N\] (?!\r\x1b\[K|$)", run.seen) == [], run.seen
            run.type(b"y\n")
            await run.until("yes-run")
            await run.until("waiting for input")
            assert await run.exit_code() == 0
        seen = run.seen
        assert "approved by tester" in seen
        assert "in another terminal" not in seen
