"""Commands for a session (message, confirmation, cancel, take/release control): they
arrive at any replica's gRPC server and run on the replica that owns the session, reached
as a NATS request on the session's control subject. Each answers with the session as it
is after the command: the message taken in, the confirmation resolved, the control moved,
the session ended. A message for a finished session no replica runs continues it here.

A command is answered by a task of its own (see `Bus.serve_requests`), not the
subscription's callback: a cancel ends the session, whose owner then stops serving the
subject, which would cancel that callback and lose the reply.
"""

from __future__ import annotations

import asyncio

from google.protobuf.message import DecodeError

from deskpilot.bus import Bus, NoResponders, control_subject
from deskpilot.common.errors import (
    FailedPrecondition,
    InvalidArgument,
    ResourceExhausted,
    ServiceError,
    Unavailable,
)
from deskpilot.orchestrator.leases import Owned, SessionLeases
from deskpilot.orchestrator.loop import SessionLoop
from deskpilot.orchestrator.store import SessionStore
from deskpilot.v1 import orchestrator_pb2, session_pb2

S = session_pb2
ENDED = (S.SESSION_STATUS_FINISHED, S.SESSION_STATUS_CANCELLED, S.SESSION_STATUS_FAILED)
_CONTROL_TIMEOUT = 10.0
# How often a command waiting for the loop checks whether it waits for space.
_STALL_CHECK_SECONDS = 0.5
# When to send a command again that met a session changing hands (said in RetryInfo).
_RETRY_SECONDS = 1.0


class SessionCommands:
    """Routes commands to the owner of a session, and runs those for sessions owned here."""

    def __init__(self, bus: Bus, store: SessionStore, leases: SessionLeases) -> None:
        self.bus = bus
        self.store = store
        self.leases = leases

    async def run(self, session_id: str, command: orchestrator_pb2.ControlCommand) -> S.Session:
        """Run `command` on the session's owner, wherever it is; the session after it."""
        entry = self.leases.owned.get(session_id)
        if entry is not None:
            if not _has_ended(entry):
                return await self._apply(session_id, command)
            # The loop has ended and is letting go of the session: wait, then continue it
            # like any session no replica runs.
            await asyncio.gather(entry.task, return_exceptions=True)
        await self.store.get(session_id)  # NotFound before anything else
        try:
            data = await self.bus.request(
                control_subject(session_id), command.SerializeToString(), _CONTROL_TIMEOUT
            )
        except NoResponders:
            return await self._unowned(session_id, command)
        except TimeoutError:
            raise Unavailable(f"the replica running session {session_id} did not answer") from None
        reply = orchestrator_pb2.ControlReply.FromString(data)
        if reply.code:
            raise _error_for(reply.code, reply.message)
        return reply.session

    async def answer(self, session_id: str, data: bytes) -> bytes:
        """Answer a command that reached this replica on the session's control subject."""
        reply = orchestrator_pb2.ControlReply()
        try:
            command = orchestrator_pb2.ControlCommand.FromString(data)
            reply.session.CopyFrom(await self._apply(session_id, command))
        except DecodeError:
            reply.code, reply.message = InvalidArgument.code.value[0], "unreadable command"
        except ServiceError as exc:
            reply.code, reply.message = exc.code.value[0], exc.message
        return reply.SerializeToString()

    async def _apply(self, session_id: str, command: orchestrator_pb2.ControlCommand) -> S.Session:
        entry = self.leases.owned.get(session_id)
        if entry is None:
            raise Unavailable(
                f"session {session_id} moved to another replica; try again",
                retry_after=_RETRY_SECONDS,
            )
        await entry.ready.wait()
        loop = entry.loop
        if loop is None:
            raise FailedPrecondition(f"session {session_id} is not running")
        if _has_ended(entry):
            raise Unavailable(
                f"session {session_id} has just ended here; try again", retry_after=_RETRY_SECONDS
            )
        kind = command.WhichOneof("command")
        if loop.stalled is not None and kind != "cancel":
            raise ResourceExhausted(
                f"{loop.stalled.message}; session {session_id} holds still until then"
            )
        # Each command answers with the session as it is after it: the message taken in, the
        # confirmation resolved, the control moved, the session ended.
        if kind == "send_message":
            message = command.send_message
            taken = loop.send_message(message.text, message.author or "user")
            await until_settled(taken, entry.task, loop)
            undelivered(taken, entry.task, session_id, "the message")
        elif kind == "resolve_confirmation":
            r = command.resolve_confirmation
            resolved = loop.resolve_confirmation(
                r.confirmation_id, r.approve, r.resolved_by, r.reason
            )
            await until_settled(resolved, entry.task, loop)
            undelivered(resolved, entry.task, session_id, "the decision")
        elif kind == "cancel":
            loop.cancel(command.cancel.reason)
            if entry.task and not await until_settled(entry.task, entry.task, loop):
                raise ResourceExhausted(
                    f"{loop.stalled.message if loop.stalled else 'event store full'}; session "
                    f"{session_id} has stopped and records its cancellation once there is space"
                )
        elif kind == "take_control":
            await loop.take_control(command.take_control.by or "someone")
        elif kind == "release_control":
            rc = command.release_control
            await loop.release_control(rc.by or "someone", rc.note)
        else:
            raise InvalidArgument("empty command")
        return loop.session

    async def _unowned(
        self, session_id: str, command: orchestrator_pb2.ControlCommand
    ) -> S.Session:
        """No replica runs the session: continue a finished one with a new message."""
        session = (await self.store.get(session_id)).session
        kind = command.WhichOneof("command")
        continuing = kind == "send_message" and session.status == S.SESSION_STATUS_FINISHED
        if continuing and await self.leases.own(session_id, resumed=True):
            entry = self.leases.owned[session_id]
            await entry.ready.wait()
            if entry.loop is not None:
                message = command.send_message
                taken = entry.loop.queue_message(message.text, message.author or "user")
                await until_settled(taken, entry.task, entry.loop)
                undelivered(taken, entry.task, session_id, "the message")
                return entry.loop.session
        status = S.SessionStatus.Name(session.status).removeprefix("SESSION_STATUS_").lower()
        if session.status not in ENDED:
            # Its owner stopped (it died, or let the session go): a replica's scan takes it
            # over once its lease is gone, so the same command goes through then.
            raise Unavailable(
                f"session {session_id} is {status} but no replica is running it right now "
                "(its owner stopped; another takes it over shortly): try again",
                retry_after=_RETRY_SECONDS,
            )
        raise FailedPrecondition(f"session {session_id} is {status}; no replica is running it")


async def until_settled(
    awaited: asyncio.Future[None], task: asyncio.Task[None] | None, loop: SessionLoop
) -> bool:
    """Wait until `awaited` is done (a command applied, or the loop's `task` ended) or the
    task has ended; False as soon as the loop waits for space in a full event store
    instead (it cannot record anything before an operator frees some)."""
    watched: set[asyncio.Future[None]] = {awaited} if task is None else {awaited, task}
    while not any(f.done() for f in watched):
        await asyncio.wait(
            watched, timeout=_STALL_CHECK_SECONDS, return_when=asyncio.FIRST_COMPLETED
        )
        if loop.stalled is not None and not awaited.done():
            return False
    return True


def undelivered(
    applied: asyncio.Future[None], task: asyncio.Task[None] | None, session_id: str, what: str
) -> None:
    """Raise when the loop ended before it took `what` in: the session stopped here (it
    ended, or another writer's events made this replica let it go), and `what` went with
    the loop, recorded nowhere. Answering with the session would tell the caller it
    arrived; UNAVAILABLE tells them to send it again, to whoever runs the session now."""
    if (applied.done() and not applied.cancelled()) or task is None or not task.done():
        return
    raise Unavailable(
        f"session {session_id} stopped on this replica before it took {what} in; "
        f"{what} was not delivered: send it again",
        retry_after=_RETRY_SECONDS,
    )


def _has_ended(entry: Owned) -> bool:
    """The entry's loop has run to its end (its task is only cleaning up)."""
    return entry.loop is not None and entry.loop.session.status in ENDED


def _error_for(code: int, message: str) -> ServiceError:
    """The error the owning replica answered with. (Its UNAVAILABLE is a replica that
    answered, like ours: said with RetryInfo, as `_apply` says it.)"""
    if code == Unavailable.code.value[0]:
        return Unavailable(message, retry_after=_RETRY_SECONDS)
    for cls in ServiceError.__subclasses__():
        if cls.code.value[0] == code:
            return cls(message)
    return ServiceError(message)
