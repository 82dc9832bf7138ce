"""A person taking the desktop from the agent and handing it back (TakeControl and
ReleaseControl): the agent waits after its current action, and its next turn is told
that the screen may have changed."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from deskpilot.common.errors import FailedPrecondition
from deskpilot.v1 import events_pb2, session_pb2

S = session_pb2
Publish = Callable[..., Awaitable[events_pb2.Event]]
SetStatus = Callable[[int, str], Awaitable[None]]


class DeskControl:
    """Who drives one session's desktop: the agent, or a person."""

    def __init__(
        self,
        session: session_pb2.Session,
        *,
        publish: Publish,
        set_status: SetStatus,
        note: Callable[[str], None],
    ) -> None:
        """`note(text)`: tell the model at its next turn."""
        self.session = session
        self._publish = publish
        self._set_status = set_status
        self._note = note
        self._free = asyncio.Event()  # set while the agent may act
        self._free.set()
        self._status_before: tuple[int, str] = (S.SESSION_STATUS_RUNNING, "")

    async def agent_may_act(self) -> None:
        """Return once no person has control."""
        await self._free.wait()

    async def take(self, by: str) -> None:
        if not self._free.is_set():
            raise FailedPrecondition(f"{self.session.controlled_by} already has control")
        # Published first: if the event store refuses it, nothing has changed.
        await self._publish(control_taken=events_pb2.ControlTaken(by=by))
        self._free.clear()
        self._status_before = (self.session.status, self.session.status_reason)
        self.session.controlled_by = by
        await self._set_status(S.SESSION_STATUS_PAUSED, f"{by} has control of the desktop")

    async def release(self, by: str, note: str) -> None:
        if self._free.is_set():
            raise FailedPrecondition("nobody has taken control")
        await self._publish(control_released=events_pb2.ControlReleased(by=by, note=note))
        self.session.controlled_by = ""
        self._note(
            f"A person ({by}) used the desktop and handed it back"
            + (f": {note}" if note else ".")
            + " The screen may have changed; take a screenshot before acting."
        )
        await self._set_status(*self._status_before)
        self._free.set()
