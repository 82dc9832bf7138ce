"""Publishing one session's events with gap-free sequence numbers.

The owning replica is the only publisher of a session, so it can number events itself;
after a takeover it continues from the last sequence found in the stream. Publishing is
serialised so events are stored in the order they are numbered, and each publish names the
stream position of the one before (learnt on the first publish, then from each
acknowledgement): an event anyone else stored for the session meanwhile makes the next
publish fail with EventOrderConflict instead of slipping into the sequence.
"""

from __future__ import annotations

import asyncio

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from deskpilot.bus import Bus
from deskpilot.v1 import events_pb2


class SessionEvents:
    """The event publisher of one session."""

    def __init__(self, bus: Bus, session_id: str, producer: str, last_sequence: int = 0) -> None:
        self.bus = bus
        self.session_id = session_id
        self.producer = producer
        self.last_sequence = last_sequence
        self._position: int | None = None  # stream sequence of the last event; None: ask
        self._lock = asyncio.Lock()

    async def publish(self, step: int, **payload: Message) -> events_pb2.Event:
        """Publish one event whose payload is the single keyword argument, e.g.
        `publish(step, status_changed=events_pb2.StatusChanged(...))`."""
        if len(payload) != 1:
            raise ValueError("publish takes exactly one payload")
        async with self._lock:
            now = Timestamp()
            now.GetCurrentTime()
            event = events_pb2.Event(
                session_id=self.session_id,
                sequence=self.last_sequence + 1,
                time=now,
                step=step,
                producer=self.producer,
                **payload,
            )
            if self._position is None:
                self._position = await self.bus.last_event_position(self.session_id)
            self._position = await self.bus.publish_event(event, after=self._position)
            self.last_sequence = event.sequence
            return event

    @classmethod
    async def resume(cls, bus: Bus, session_id: str, producer: str) -> SessionEvents:
        """A publisher that continues after the last event already stored for the session."""
        last = 0
        async for event in bus.replay_events(session_id):
            last = event.sequence
        return cls(bus, session_id, producer, last)
