"""Filling a real JetStream store until it refuses writes, as a busy deployment would."""

from __future__ import annotations

from deskpilot.bus import Bus, EventStoreFull
from deskpilot.v1 import events_pb2


async def fill_with_events(bus: Bus, session_id: str) -> int:
    """Publish 20 kB events for `session_id` until the store refuses one; return how many
    fitted."""
    for sequence in range(1, 10_000):
        event = events_pb2.Event(
            session_id=session_id,
            sequence=sequence,
            user_message=events_pb2.UserMessage(text="x" * 20_000),
        )
        try:
            await bus.publish_event(event, deadline=10)
        except EventStoreFull:
            return sequence - 1
    raise AssertionError("the store never filled up")
