"""The session commands that start and show sessions: `run`, `watch`, `sessions`,
`approve` and `deny` (`control.py` has cancel, delete, take and handback; `conversation.py`
has send and chat).

Each takes its parsed arguments, a stub to the orchestrator and a `Terminal` (streams,
colour, interactivity), and returns the exit code; `execute` turns server errors into one
line `deskpilot <command>: <details>`, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import uuid

import grpc

from deskpilot.cli.following import caught_up, follow, follow_turn, get_session, summarise
from deskpilot.cli.live import LiveView
from deskpilot.cli.render import render_banner, render_summary, render_table, status_name
from deskpilot.cli.terminal import Command, Terminal, UsageError
from deskpilot.v1 import common_pb2, orchestrator_pb2, session_pb2
from deskpilot.v1.orchestrator_pb2_grpc import OrchestratorStub

S = session_pb2
pb = orchestrator_pb2

TOOL_SETS = {
    "20241022": S.TOOL_SET_20241022,
    "20250124": S.TOOL_SET_20250124,
    "20250429": S.TOOL_SET_20250429,
    "20251124": S.TOOL_SET_20251124,
    "20260801": S.TOOL_SET_20260801,
}
STATUSES = {
    name.removeprefix("SESSION_STATUS_").lower(): value
    for name, value in S.SessionStatus.items()
    if value != S.SESSION_STATUS_UNSPECIFIED
}


# -- run --------------------------------------------------------------------------------------


def session_config(args: argparse.Namespace, task: str | None = None) -> S.SessionConfig:
    """The SessionConfig the `run` flags describe, for `task` or theirs (the server checks
    ranges)."""
    config = S.SessionConfig(
        task=args.task if task is None else task,
        model=args.model or "",
        tool_set=TOOL_SETS[args.tool_set] if args.tool_set else S.TOOL_SET_UNSPECIFIED,
        limits=S.SessionLimits(
            max_steps=args.max_steps or 0,
            max_tokens=args.max_tokens or 0,
            max_wall_seconds=args.max_wall_seconds or 0,
        ),
        thinking_budget_tokens=args.thinking_budget or 0,
        system_prompt_suffix=args.system_suffix or "",
        keep_recent_screenshots=args.keep_screenshots or 0,
        max_output_tokens=args.max_output_tokens or 0,
    )
    if args.display:
        match = re.fullmatch(r"(\d{1,5})x(\d{1,5})", args.display)
        if not match:
            raise UsageError(f"--display must look like 1280x800, got {args.display!r}")
        config.display.CopyFrom(common_pb2.Size(width=int(match[1]), height=int(match[2])))
    if args.allow_domain:
        config.safety_policy.allowed_domains.extend(args.allow_domain)
    return config


async def run(args: argparse.Namespace, stub: OrchestratorStub, term: Terminal) -> int:
    """Create a session and follow it until the model's turn ends or the session does."""
    session = await create_session(args, stub)
    view = LiveView(term.out, term.style, stand_in=session.model_is_stand_in)
    for line in render_banner(session, term.style):
        view.line(line)
    view.line(f"session {session.id} — follow it elsewhere with `deskpilot watch {session.id}`")
    end = await follow_turn(stub, session.id, view, term, args.user, command="run")
    return summarise(end, view)


async def create_session(
    args: argparse.Namespace, stub: OrchestratorStub, task: str | None = None
) -> S.Session:
    """A new session with the settings the `run` flags describe, for `task` or theirs."""
    config = session_config(args, task)
    request = pb.CreateSessionRequest(config=config, request_id=uuid.uuid4().hex)
    return (await stub.CreateSession(request)).session


# -- watch ------------------------------------------------------------------------------------


async def watch(args: argparse.Namespace, stub: OrchestratorStub, term: Terminal) -> int:
    """Replay a session's events, then follow it until it ends (or Ctrl-C).

    A session deleted with its history kept is only replayed.
    """
    session = await _session_unless_deleted(stub, args.session_id)
    view = LiveView(
        term.out, term.style, stand_in=session is not None and session.model_is_stand_in
    )
    for line in render_banner(session, term.style) if session is not None else ():
        view.line(line)
    following = asyncio.ensure_future(
        follow(
            stub,
            args.session_id,
            view,
            lambda e: e.HasField("session_finished"),
            follow=session is not None and not args.no_follow,
        )
    )
    interrupted = asyncio.ensure_future(term.interrupted.wait())
    try:
        await asyncio.wait({following, interrupted}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        interrupted.cancel()
    if not following.done():
        following.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await following
        view.line("stopped watching; the session goes on")
        return 0
    last = following.result()  # no history either: the stream says the session is not found
    if session is None:
        view.line(f"session {args.session_id} was deleted; this was its kept history")
        return 0
    view.line(render_summary(await caught_up(stub, session.id, last), term.style))
    return 0


async def _session_unless_deleted(stub: OrchestratorStub, session_id: str) -> S.Session | None:
    """The session, or None when it is gone (its history may have been kept)."""
    try:
        return await get_session(stub, session_id)
    except grpc.aio.AioRpcError as exc:
        if exc.code() != grpc.StatusCode.NOT_FOUND:
            raise
        return None


# -- sessions ---------------------------------------------------------------------------------


async def sessions(args: argparse.Namespace, stub: OrchestratorStub, term: Terminal) -> int:
    """A table of sessions, newest first."""
    statuses = [STATUSES[name] for name in args.status or ()]
    reply = await stub.ListSessions(pb.ListSessionsRequest(statuses=statuses, page_size=args.limit))
    if not reply.sessions:
        which = " or ".join(args.status) if args.status else "any"
        term.say(f"no sessions ({which} status)")
        return 0
    for line in render_table(list(reply.sessions)):
        term.say(line)
    if reply.next_page_token:
        term.say(f"(more than {args.limit}; raise --limit to see them)")
    return 0


# -- approve / deny ---------------------------------------------------------------------------


def resolver(approve: bool) -> Command:
    """`approve` or `deny`: settle the session's pending confirmation."""

    async def resolve(args: argparse.Namespace, stub: OrchestratorStub, term: Terminal) -> int:
        session = await get_session(stub, args.session_id)
        verb = "approve" if approve else "deny"
        if not session.pending_confirmation_id:
            term.err.write(
                f"deskpilot {verb}: session {session.id} has no action waiting for confirmation "
                f"(it is {status_name(session.status)})\n"
            )
            return 1
        reply = await stub.ResolveConfirmation(
            pb.ResolveConfirmationRequest(
                session_id=session.id,
                confirmation_id=session.pending_confirmation_id,
                approve=approve,
                resolved_by=args.user,
                reason=getattr(args, "reason", "") or "",
            )
        )
        done = "approved" if approve else "denied"
        term.say(
            f"{done} confirmation {session.pending_confirmation_id} of session {session.id}; "
            f"it is now {status_name(reply.session.status)}"
        )
        return 0

    return resolve
