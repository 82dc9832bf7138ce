"""The session commands that talk with the model: `send` (one follow-up message, then the
session live until the model's turn ends) and `chat` (the same, in a loop: follow the
session until it waits for you, read the next message at `you> `, send it, repeat).

Both ask for confirmations the way `run` does, and Ctrl-C while the model works cancels
the session as in `run`. Leaving a chat (end of input, `exit`, Ctrl-C at the prompt)
leaves the session open.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import Callable

import grpc

from deskpilot.cli.commands import create_session
from deskpilot.cli.following import (
    Replayed,
    TurnEnd,
    follow,
    follow_turn,
    get_session,
    is_turn_end,
    summarise,
)
from deskpilot.cli.live import LiveView
from deskpilot.cli.render import render_banner, render_summary, status_name
from deskpilot.cli.terminal import EXIT_INTERRUPTED, Terminal, UsageError
from deskpilot.v1 import events_pb2, orchestrator_pb2, session_pb2
from deskpilot.v1.orchestrator_pb2_grpc import OrchestratorStub

S = session_pb2
pb = orchestrator_pb2
PROMPT = "you> "
_LEAVE_WORDS = ("exit", "quit")
# A session in these states takes a message (a finished one is continued).
_TAKES_MESSAGES = (S.SESSION_STATUS_WAITING_INPUT, S.SESSION_STATUS_FINISHED)
_ENDED = (S.SESSION_STATUS_CANCELLED, S.SESSION_STATUS_FAILED)


# -- send -------------------------------------------------------------------------------------


async def send(args: argparse.Namespace, stub: OrchestratorStub, term: Terminal) -> int:
    """Send a follow-up message, then follow the session until the model's turn ends."""
    text = args.text.strip()
    if not text:
        raise UsageError("TEXT is empty: say what the model should do next")
    session = await _send(stub, args.session_id, text, args.user)
    view = LiveView(term.out, term.style, stand_in=session.model_is_stand_in)
    for line in render_banner(session, term.style):
        view.line(line)
    end = await _follow_reply(stub, session, text, view, term, args.user, command="send")
    return summarise(end, view)


async def _send(stub: OrchestratorStub, session_id: str, text: str, user: str) -> S.Session:
    request = pb.SendMessageRequest(session_id=session_id, text=text, author=user)
    return (await stub.SendMessage(request)).session


async def _follow_reply(
    stub: OrchestratorStub,
    reply: S.Session,
    text: str,
    view: LiveView,
    term: Terminal,
    user: str,
    *,
    command: str,
) -> TurnEnd:
    """Follow the turn a message (`text`) started, from the first event after the reply's."""
    if reply.status not in _TAKES_MESSAGES:
        # The reply came once the loop had taken the message in: its event lies before
        # the events followed from here, so it is shown as it was sent.
        sent = events_pb2.UserMessage(text=text, author=user)
        view.show(events_pb2.Event(session_id=reply.id, user_message=sent))
    return await follow_turn(
        stub,
        reply.id,
        view,
        term,
        user,
        command=command,
        from_sequence=reply.last_sequence + 1,
        done=_turn_after_message(reply),
    )


def _turn_after_message(reply: S.Session) -> Callable[[events_pb2.Event], bool]:
    """The end of the turn a sent message starts.

    A reply given while the message still waits in the session's inbox (status still
    waiting for input, or finished) can be followed by the session saying once more that
    it waits, just before it takes the message in: that is not the turn's end. A reply
    given once the message was taken in (status running) is followed by the turn only.
    """
    taken = reply.status not in _TAKES_MESSAGES

    def done(event: events_pb2.Event) -> bool:
        nonlocal taken
        taken = taken or event.HasField("user_message")
        return event.HasField("session_finished") or (taken and is_turn_end(event))

    return done


# -- chat -------------------------------------------------------------------------------------


async def chat(args: argparse.Namespace, stub: OrchestratorStub, term: Terminal) -> int:
    """Start (or attach to) a session and talk with it until you leave."""
    if term.input is None:
        raise UsageError("chat reads your messages from stdin, and there is none")
    task = (args.task or "").strip() or None
    view = LiveView(term.out, term.style)
    if args.session:
        session = await get_session(stub, args.session)
        _greet(session, view)
        end = await _attach(stub, session, view, term, args.user)
        return await _converse(stub, end, task, view, term, args.user)  # TASK: its next message
    if task is None:
        view.line("what should the agent do? (Ctrl-D or `exit` leaves)")
        task = await _read_message(view, term)
        if task is None:
            return EXIT_INTERRUPTED if term.interrupted.is_set() else 0
    session = await create_session(args, stub, task=task)
    _greet(session, view)
    end = await follow_turn(stub, session.id, view, term, args.user, command="chat")
    return await _converse(stub, end, None, view, term, args.user)


def _greet(session: S.Session, view: LiveView) -> None:
    view.state.stand_in = session.model_is_stand_in
    for line in render_banner(session, view.style):
        view.line(line)
    view.line(
        f"session {session.id}: type at `{PROMPT.strip()}` when the model waits for you; "
        "Ctrl-D or `exit` leaves (the session stays open)"
    )


async def _attach(
    stub: OrchestratorStub, session: S.Session, view: LiveView, term: Terminal, user: str
) -> TurnEnd:
    """Show the session so far; if the model is at work, follow it until its turn ends."""
    if session.status in _TAKES_MESSAGES or session.status in _ENDED:
        last = await follow(stub, session.id, view, lambda _: False, follow=False)
        return TurnEnd(session, last.sequence if last is not None else 0)
    replayed = Replayed.of(session)  # a turn end after this is the one to wait for

    def live_turn_end(event: events_pb2.Event) -> bool:
        return event.sequence > replayed.last_sequence and is_turn_end(event)

    return await follow_turn(
        stub, session.id, view, term, user, command="chat", done=live_turn_end, replayed=replayed
    )


async def _converse(
    stub: OrchestratorStub,
    end: TurnEnd,
    first: str | None,
    view: LiveView,
    term: Terminal,
    user: str,
) -> int:
    """Read a message, send it, follow the turn it starts; until you leave or it ends."""
    while True:
        session = end.session
        if end.interrupted or session.status not in _TAKES_MESSAGES:
            return summarise(end, view)
        text = first or await _read_message(view, term)
        first = None
        if text is None:
            _leave(session, view)
            return EXIT_INTERRUPTED if term.interrupted.is_set() else 0
        try:
            reply = await _send(stub, session.id, text, user)
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.INVALID_ARGUMENT:
                raise
            view.line(f"not sent: {exc.details()}")  # e.g. too long: say so, ask again
            continue
        end = await _follow_reply(stub, reply, text, view, term, user, command="chat")


async def _read_message(view: LiveView, term: Terminal) -> str | None:
    """The next message typed at the prompt; None to leave (end of input, `exit`, Ctrl-C)."""
    assert term.input is not None
    while True:
        asking = asyncio.ensure_future(view.ask(PROMPT, term.input))
        interrupted = asyncio.ensure_future(term.interrupted.wait())
        try:
            await asyncio.wait({asking, interrupted}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            interrupted.cancel()
        if not asking.done():
            asking.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asking
            return None
        text = asking.result()
        if text is None or text.strip().lower() in _LEAVE_WORDS:
            return None
        if text.strip():
            return text.strip()


def _leave(session: S.Session, view: LiveView) -> None:
    view.line(render_summary(session, view.style))
    view.line(
        f"left the chat; session {session.id} stays open ({status_name(session.status)}): "
        f"`deskpilot chat --session {session.id}` comes back to it"
    )
