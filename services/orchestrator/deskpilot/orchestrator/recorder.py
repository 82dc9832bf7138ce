"""What one session's loop writes: its numbered events and its record.

Every write waits for space in a full event store instead of failing the session (see
`until_stored`): the session holds still, loses nothing, and goes on once the store has
room. `stalled` says whether it is waiting right now, so commands can answer at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from deskpilot.bus import EventStoreFull, until_stored
from deskpilot.orchestrator.events import SessionEvents
from deskpilot.orchestrator.store import KnownRecord, SessionStore
from deskpilot.orchestrator.truncation import status_reason
from deskpilot.v1 import events_pb2, session_pb2

T = TypeVar("T")


class SessionRecorder:
    """Publishes a session's events and saves its record, in that session's order."""

    def __init__(
        self,
        session: session_pb2.Session,
        events: SessionEvents,
        store: SessionStore,
        *,
        committed: Callable[[], bool],
        sandbox: Callable[[], session_pb2.ProvisionedSandbox],
    ) -> None:
        """`committed()`: whether every tool call of the latest model turn has its result,
        so a save also marks the step committed (what recovery continues from).
        `sandbox()`: where the session's sandbox listens and its credentials, kept beside
        the session, never in it."""
        self.session = session
        self.events = events
        self.store = store
        self._committed = committed
        self._sandbox = sandbox
        self._record = KnownRecord()  # the loop is the record's usual writer
        self.stalled: EventStoreFull | None = None

    async def publish(self, **payload: Any) -> events_pb2.Event:
        """Publish one event of the session's current step (one payload keyword)."""
        event = await self.write(lambda: self.events.publish(self.session.steps, **payload))
        self.session.last_sequence = event.sequence
        return event

    async def write(self, write: Callable[[], Awaitable[T]]) -> T:
        """Run `write`, waiting while the event store is full."""
        return await until_stored(write, waiting=self._set_stalled)

    def _set_stalled(self, full: EventStoreFull | None) -> None:
        self.stalled = full

    async def set_status(self, status: int, reason: str) -> None:
        """Change the status (record first, then its event); nothing when it is the same."""
        reason = status_reason(reason)
        if status == self.session.status and reason == self.session.status_reason:
            return
        change = events_pb2.StatusChanged(to=status, reason=reason, **{"from": self.session.status})
        self.session.status = status
        self.session.status_reason = reason
        # Record first, then event: a client reacting to the event reads the new status.
        self.session.last_sequence = self.events.last_sequence + 1
        await self.save()
        await self.publish(status_changed=change)

    async def save(self) -> None:
        snapshot = session_pb2.Session()
        snapshot.CopyFrom(self.session)
        committed = self._committed()
        sandbox = session_pb2.ProvisionedSandbox()
        sandbox.CopyFrom(self._sandbox())

        def apply(record: session_pb2.SessionRecord) -> None:
            record.session.CopyFrom(snapshot)
            record.sandbox_endpoints.CopyFrom(sandbox.endpoints)
            record.sandbox_secrets.CopyFrom(sandbox.secrets)
            if committed:
                record.last_committed_step = snapshot.steps

        await self.write(lambda: self.store.update(self.session.id, apply, known=self._record))

    async def finish(self, status: int, reason: str) -> None:
        """Record the session's end: its status, then the event that says it finished."""
        await self.set_status(status, reason)
        await self.publish(
            session_finished=events_pb2.SessionFinished(
                status=status, reason=reason, usage=self.session.usage, steps=self.session.steps
            )
        )
