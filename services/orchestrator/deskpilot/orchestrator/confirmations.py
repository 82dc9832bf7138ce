"""Asking a person whether an action may run, and waiting for the answer.

A confirmation is published as an event, the session waits in WAITING_CONFIRMATION, and
`resolve` (a ResolveConfirmation reaching the owner) answers it; nobody answering within
the timeout is a denial. `resolve` returns once the session has taken the answer in, so
the caller sees the session as it is after it (no confirmation pending, running again).
"""

from __future__ import annotations

import asyncio
import datetime
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from deskpilot.common.cancellation import raise_if_cancelled
from deskpilot.common.errors import FailedPrecondition
from deskpilot.v1 import common_pb2, events_pb2, safety_pb2, session_pb2

S = session_pb2
Publish = Callable[..., Awaitable[events_pb2.Event]]
SetStatus = Callable[[int, str], Awaitable[None]]


@dataclass
class _Pending:
    answer: asyncio.Future[tuple[bool, str, str]]  # approved, by, reason
    # Done once the session has recorded the answer and runs again.
    applied: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class Confirmations:
    """The confirmations of one session (at most one waits at a time)."""

    def __init__(
        self,
        session: session_pb2.Session,
        *,
        timeout: float,
        publish: Publish,
        set_status: SetStatus,
    ) -> None:
        self.session = session
        self.timeout = timeout
        self._publish = publish
        self._set_status = set_status
        self._pending: dict[str, _Pending] = {}

    async def ask(
        self, call: common_pb2.ToolCall, reasons: list[safety_pb2.Reason]
    ) -> tuple[bool, str]:
        """Ask a person about `call`; a timeout is a denial. Returns (approved, reason)."""
        confirmation_id = uuid.uuid4().hex
        expires = Timestamp()
        expires.FromDatetime(_now() + datetime.timedelta(seconds=self.timeout))
        pending = _Pending(asyncio.get_running_loop().create_future())
        self._pending[confirmation_id] = pending
        try:
            await self._publish(
                confirmation_requested=events_pb2.ConfirmationRequested(
                    confirmation_id=confirmation_id, call=call, reasons=reasons, expires_at=expires
                )
            )
            self.session.pending_confirmation_id = confirmation_id
            await self._set_status(
                S.SESSION_STATUS_WAITING_CONFIRMATION, "an action needs approval"
            )
            approved, by, reason = await self._answer(pending)
            await self._publish(
                confirmation_resolved=events_pb2.ConfirmationResolved(
                    confirmation_id=confirmation_id,
                    approved=approved,
                    resolved_by=by,
                    reason=reason,
                )
            )
            self.session.pending_confirmation_id = ""
            if approved:
                self.session.tainted = False  # a person has looked at the situation
            await self._set_status(S.SESSION_STATUS_RUNNING, "")
            _settle(pending.applied)
            return approved, reason
        finally:
            self._pending.pop(confirmation_id, None)
            pending.applied.cancel()  # no-op once settled

    async def _answer(self, pending: _Pending) -> tuple[bool, str, str]:
        raise_if_cancelled()
        try:
            return await asyncio.wait_for(pending.answer, self.timeout)
        except TimeoutError:
            return False, "timeout", f"no one answered within {self.timeout:g} s"

    def resolve(
        self, confirmation_id: str, approve: bool, by: str, reason: str
    ) -> asyncio.Future[None]:
        """Answer a pending confirmation; the returned future is done once the session has
        recorded the answer. FailedPrecondition when no such confirmation waits."""
        pending = self._pending.get(confirmation_id)
        if pending is None or pending.answer.done():
            raise FailedPrecondition(f"no confirmation {confirmation_id!r} is pending")
        pending.answer.set_result((approve, by or "someone", reason))
        return pending.applied

    def cancel_all(self) -> None:
        """The session ends: nobody is waited for any more."""
        for pending in self._pending.values():
            pending.answer.cancel()
            pending.applied.cancel()


def _settle(future: asyncio.Future[Any]) -> None:
    if not future.done():
        future.set_result(None)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)
