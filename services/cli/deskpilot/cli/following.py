"""Following a session live: its events from a sequence number on, the confirmations it
asks for on the way, and its record once that has caught up with what was shown.

`follow_turn` is what `run`, `send` and `chat` share: show the session until the model's
turn ends (or the session does), asking `Approve? [y/N]` where a person can answer, and
cancelling the session on Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import grpc

from deskpilot.cli.live import LiveView
from deskpilot.cli.prompt import is_yes
from deskpilot.cli.render import render_summary
from deskpilot.cli.terminal import EXIT_INTERRUPTED, Terminal
from deskpilot.v1 import events_pb2, orchestrator_pb2, session_pb2
from deskpilot.v1.orchestrator_pb2_grpc import OrchestratorStub

S = session_pb2
pb = orchestrator_pb2
_SUCCEEDED = (S.SESSION_STATUS_WAITING_INPUT, S.SESSION_STATUS_FINISHED)
_CATCH_UP_POLLS, _CATCH_UP_INTERVAL = 50, 0.05  # wait up to 2.5 s for the record


async def get_session(stub: OrchestratorStub, session_id: str) -> S.Session:
    return (await stub.GetSession(pb.GetSessionRequest(session_id=session_id))).session


def is_turn_end(event: events_pb2.Event) -> bool:
    """The model finished its turn (the session waits for a message) or the session ended."""
    if event.HasField("session_finished"):
        return True
    return event.HasField("status_changed") and (
        event.status_changed.to == S.SESSION_STATUS_WAITING_INPUT
    )


async def follow(
    stub: OrchestratorStub,
    session_id: str,
    view: LiveView,
    done: Callable[[events_pb2.Event], bool],
    on_event: Callable[[events_pb2.Event], Awaitable[None]] | None = None,
    *,
    follow: bool = True,
    from_sequence: int = 1,
) -> events_pb2.Event | None:
    """Show the session's events from `from_sequence`; the event `done` accepted, if any.

    Without `follow`, it ends after the replay and returns the last event shown.
    """
    request = pb.StreamEventsRequest(
        session_id=session_id, follow=follow, from_sequence=from_sequence
    )
    call = stub.StreamEvents(request)
    last = None
    try:
        async for reply in call:
            last = reply.event
            view.show(reply.event)
            if on_event is not None:
                await on_event(reply.event)
            if done(reply.event):
                return reply.event
        return None if follow else last
    finally:
        call.cancel()


async def caught_up(
    stub: OrchestratorStub, session_id: str, seen: events_pb2.Event | None
) -> S.Session:
    """The session once its record includes the event `seen`.

    The orchestrator publishes an event before it saves the session record, so a
    GetSession right after the event can still show the status before it.
    """
    session = await get_session(stub, session_id)
    for _ in range(_CATCH_UP_POLLS):
        if seen is None or session.last_sequence >= seen.sequence:
            break
        await asyncio.sleep(_CATCH_UP_INTERVAL)
        session = await get_session(stub, session_id)
    return session


@dataclass(frozen=True)
class Replayed:
    """What of a session's history is already past: its events up to `last_sequence`, of
    which only the confirmation `pending_id` (if any) still waits for an answer."""

    last_sequence: int = 0
    pending_id: str = ""

    @classmethod
    def of(cls, session: S.Session) -> Replayed:
        return cls(session.last_sequence, session.pending_confirmation_id)

    def is_open(self, event: events_pb2.Event) -> bool:
        """A confirmation request that still waits (not one answered in the past)."""
        request = event.confirmation_requested
        return event.sequence > self.last_sequence or request.confirmation_id == self.pending_id


class Confirmations:
    """Asks y/n on the terminal for each confirmation; without one, says how to answer."""

    def __init__(
        self,
        stub: OrchestratorStub,
        session_id: str,
        user: str,
        term: Terminal,
        view: LiveView,
        replayed: Replayed = Replayed(),
    ) -> None:
        self.stub = stub
        self.user = user
        self.session_id = session_id
        self.term = term
        self.view = view
        self.replayed = replayed
        self._asking: dict[str, asyncio.Task[None]] = {}

    async def on_event(self, event: events_pb2.Event) -> None:
        if event.HasField("confirmation_requested") and self.replayed.is_open(event):
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


@dataclass(frozen=True)
class TurnEnd:
    """Where following a turn stopped."""

    session: S.Session  # the record, caught up with the last event shown
    last_sequence: int  # of the last event shown (0: none)
    interrupted: bool = False  # Ctrl-C: the session was cancelled (if it still could be)

    def exit_code(self) -> int:
        """130 after Ctrl-C; 0 when the session waits for input or finished; 1 otherwise."""
        if self.interrupted:
            return EXIT_INTERRUPTED
        return 0 if self.session.status in _SUCCEEDED else 1


async def follow_turn(
    stub: OrchestratorStub,
    session_id: str,
    view: LiveView,
    term: Terminal,
    user: str,
    *,
    command: str,
    from_sequence: int = 1,
    done: Callable[[events_pb2.Event], bool] = is_turn_end,
    replayed: Replayed = Replayed(),
) -> TurnEnd:
    """Show the session from `from_sequence` until the model's turn ends (the event `done`
    accepts) or the session does, asking for confirmations as they come (those `replayed`
    says are past are only shown); Ctrl-C cancels the session."""
    confirmations = Confirmations(stub, session_id, user, term, view, replayed)
    following = asyncio.ensure_future(
        follow(stub, session_id, view, done, confirmations.on_event, from_sequence=from_sequence)
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
        final = await _cancel(stub, session_id, term, command) or await get_session(
            stub, session_id
        )
        return TurnEnd(final, final.last_sequence, interrupted=True)
    last = following.result()  # a stream error propagates as the command's error
    session = await caught_up(stub, session_id, last)
    return TurnEnd(session, last.sequence if last is not None else 0)


async def _cancel(
    stub: OrchestratorStub, session_id: str, term: Terminal, command: str
) -> S.Session | None:
    """The cancelled session, or None (with a message) if it could not be cancelled."""
    request = pb.CancelRequest(session_id=session_id, reason=f"Ctrl-C in deskpilot {command}")
    try:
        return (await stub.Cancel(request)).session
    except grpc.aio.AioRpcError as exc:  # e.g. it ended meanwhile: say so, still summarise
        term.err.write(f"deskpilot {command}: could not cancel: {exc.details()}\n")
        return None


def summarise(end: TurnEnd, view: LiveView) -> int:
    """The closing summary, and how to go on when the session stays open; the exit code."""
    view.line(render_summary(end.session, view.style))
    if not end.interrupted and end.session.status == S.SESSION_STATUS_WAITING_INPUT:
        session_id = end.session.id
        view.line(
            view.style.dim(
                f"the session stays open: continue it with `deskpilot send {session_id} TEXT` "
                f"or `deskpilot chat --session {session_id}`"
            )
        )
    return end.exit_code()
