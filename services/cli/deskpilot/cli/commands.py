"""The session commands: `run`, `watch`, `sessions`, `approve` and `deny`.

Each takes its parsed arguments, the CLI settings and a `Terminal` (streams, colour,
interactivity) so tests run them in-process with captured output, and returns the exit
code. Server errors become one line `deskpilot <command>: <details>`, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TextIO

import grpc

from deskpilot.cli.live import LiveView
from deskpilot.cli.prompt import LineReader, is_yes
from deskpilot.cli.render import (
    Style,
    render_banner,
    render_summary,
    render_table,
    status_name,
)
from deskpilot.cli.settings import CliSettings
from deskpilot.common.grpc_client import open_channel
from deskpilot.v1 import common_pb2, events_pb2, orchestrator_pb2, session_pb2
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
_SUCCEEDED = (S.SESSION_STATUS_WAITING_INPUT, S.SESSION_STATUS_FINISHED)
EXIT_INTERRUPTED = 130
_CATCH_UP_POLLS, _CATCH_UP_INTERVAL = 50, 0.05  # wait up to 2.5 s for the record


class UsageError(ValueError):
    """Bad command-line input caught before anything is sent (exit code 2)."""


@dataclass
class Terminal:
    """Where a command writes and whether it may ask questions."""

    out: TextIO
    err: TextIO
    input: LineReader | None = None  # where typed answers come from; None: nowhere
    interactive: bool = False  # a person at a terminal: questions may be asked
    colour: bool = False
    # Set by Ctrl-C (main installs the signal handler); tests set it themselves.
    interrupted: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def style(self) -> Style:
        return Style(self.colour)

    def say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()


Command = Callable[[argparse.Namespace, OrchestratorStub, Terminal], Awaitable[int]]


async def execute(
    name: str, command: Command, args: argparse.Namespace, settings: CliSettings, term: Terminal
) -> int:
    """Run `command` with a channel to the orchestrator; report errors as one line."""
    channel = open_channel(settings.orchestrator)
    try:
        return await command(args, OrchestratorStub(channel), term)
    except UsageError as exc:
        term.err.write(f"deskpilot {name}: {exc}\n")
        return 2
    except grpc.aio.AioRpcError as exc:
        term.err.write(f"deskpilot {name}: {_explain(exc, settings.orchestrator)}\n")
        return 2 if exc.code() == grpc.StatusCode.INVALID_ARGUMENT else 1
    finally:
        await channel.close()


def _explain(error: grpc.aio.AioRpcError, address: str) -> str:
    details = error.details() or error.code().name
    if error.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        return (
            f"cannot reach the orchestrator at {address} ({details}); is `deskpilot up` "
            "running? Point --orchestrator / DESKPILOT_CLI_ORCHESTRATOR at it."
        )
    return details


# -- run --------------------------------------------------------------------------------------


def session_config(args: argparse.Namespace) -> S.SessionConfig:
    """The SessionConfig the `run` flags describe (the server checks ranges)."""
    config = S.SessionConfig(
        task=args.task,
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
    request = pb.CreateSessionRequest(config=session_config(args), request_id=uuid.uuid4().hex)
    session = (await stub.CreateSession(request)).session
    view = LiveView(term.out, term.style, stand_in=session.model_is_stand_in)
    for line in render_banner(session, term.style):
        view.line(line)
    view.line(f"session {session.id} — follow it elsewhere with `deskpilot watch {session.id}`")
    confirmations = _Confirmations(stub, session.id, args.user, term, view)
    following = asyncio.ensure_future(
        _follow(stub, session.id, view, _run_is_done, confirmations.on_event)
    )
    interrupted = asyncio.ensure_future(term.interrupted.wait())
    try:
        await asyncio.wait({following, interrupted}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        confirmations.withdraw()
        interrupted.cancel()
    if not following.done():
        following.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await following
        view.line("interrupted: cancelling the session")
        final = await _cancel(stub, session.id, term) or await _get(stub, session.id)
        view.line(render_summary(final, term.style))
        return EXIT_INTERRUPTED
    last = following.result()  # a stream error propagates as the command's error
    final = await _caught_up(stub, session.id, last)
    view.line(render_summary(final, term.style))
    if final.status == S.SESSION_STATUS_WAITING_INPUT:
        view.line(
            term.style.dim(f"the session stays open: `deskpilot watch {final.id}` follows it")
        )
    return 0 if final.status in _SUCCEEDED else 1


def _run_is_done(event: events_pb2.Event) -> bool:
    if event.HasField("session_finished"):
        return True
    return event.HasField("status_changed") and (
        event.status_changed.to == S.SESSION_STATUS_WAITING_INPUT
    )


async def _cancel(stub: OrchestratorStub, session_id: str, term: Terminal) -> S.Session | None:
    """The cancelled session, or None (with a message) if it could not be cancelled."""
    request = pb.CancelRequest(session_id=session_id, reason="Ctrl-C in deskpilot run")
    try:
        return (await stub.Cancel(request)).session
    except grpc.aio.AioRpcError as exc:  # e.g. it ended meanwhile: say so, still summarise
        term.err.write(f"deskpilot run: could not cancel: {exc.details()}\n")
        return None


class _Confirmations:
    """Asks y/n on the terminal for each confirmation; without one, says how to answer."""

    def __init__(
        self, stub: OrchestratorStub, session_id: str, user: str, term: Terminal, view: LiveView
    ) -> None:
        self.stub = stub
        self.user = user
        self.session_id = session_id
        self.term = term
        self.view = view
        self._asking: dict[str, asyncio.Task[None]] = {}

    async def on_event(self, event: events_pb2.Event) -> None:
        if event.HasField("confirmation_requested"):
            confirmation_id = event.confirmation_requested.confirmation_id
            if not self.term.interactive or self.term.input is None:
                self.view.line(
                    f"  waiting for a person: run `deskpilot approve {self.session_id}` or "
                    f"`deskpilot deny {self.session_id}` in another terminal"
                )
            else:
                self._asking[confirmation_id] = asyncio.ensure_future(self._ask(confirmation_id))
        elif event.HasField("confirmation_resolved"):
            task = self._asking.pop(event.confirmation_resolved.confirmation_id, None)
            if task is not None and not task.done():
                task.cancel()  # answered elsewhere: the view takes the question back

    async def _ask(self, confirmation_id: str) -> None:
        assert self.term.input is not None
        approve = is_yes(await self.view.ask("Approve? [y/N] ", self.term.input))
        try:
            await self.stub.ResolveConfirmation(
                pb.ResolveConfirmationRequest(
                    session_id=self.session_id,
                    confirmation_id=confirmation_id,
                    approve=approve,
                    resolved_by=self.user,
                    reason="" if approve else "denied at the terminal",
                )
            )
        except grpc.aio.AioRpcError as exc:  # answered elsewhere or expired meanwhile
            self.view.line(f"could not {'approve' if approve else 'deny'}: {exc.details()}")

    def withdraw(self) -> None:
        for task in self._asking.values():
            task.cancel()
        self._asking.clear()


async def _follow(
    stub: OrchestratorStub,
    session_id: str,
    view: LiveView,
    done: Callable[[events_pb2.Event], bool],
    on_event: Callable[[events_pb2.Event], Awaitable[None]] | None = None,
    *,
    follow: bool = True,
) -> events_pb2.Event | None:
    """Show the session's events from the start; the event `done` accepted, if any."""
    call = stub.StreamEvents(pb.StreamEventsRequest(session_id=session_id, follow=follow))
    try:
        async for reply in call:
            view.show(reply.event)
            if on_event is not None:
                await on_event(reply.event)
            if done(reply.event):
                return reply.event
        return None
    finally:
        call.cancel()


async def _get(stub: OrchestratorStub, session_id: str) -> S.Session:
    return (await stub.GetSession(pb.GetSessionRequest(session_id=session_id))).session


async def _caught_up(
    stub: OrchestratorStub, session_id: str, seen: events_pb2.Event | None
) -> S.Session:
    """The session once its record includes the event `seen`.

    The orchestrator publishes an event before it saves the session record, so a
    GetSession right after the event can still show the status before it.
    """
    session = await _get(stub, session_id)
    for _ in range(_CATCH_UP_POLLS):
        if seen is None or session.last_sequence >= seen.sequence:
            break
        await asyncio.sleep(_CATCH_UP_INTERVAL)
        session = await _get(stub, session_id)
    return session


# -- watch ------------------------------------------------------------------------------------


async def watch(args: argparse.Namespace, stub: OrchestratorStub, term: Terminal) -> int:
    """Replay a session's events, then follow it until it ends (or Ctrl-C)."""
    session = await _get(stub, args.session_id)
    view = LiveView(term.out, term.style, stand_in=session.model_is_stand_in)
    for line in render_banner(session, term.style):
        view.line(line)
    following = asyncio.ensure_future(
        _follow(
            stub,
            session.id,
            view,
            lambda e: e.HasField("session_finished"),
            follow=not args.no_follow,
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
    last = following.result()
    view.line(render_summary(await _caught_up(stub, session.id, last), term.style))
    return 0


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
        session = await _get(stub, args.session_id)
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
