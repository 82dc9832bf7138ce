"""Session records and session events against a real nats-server."""

from __future__ import annotations

import asyncio

import pytest

from deskpilot.bus import Bus
from deskpilot.common.errors import AlreadyExists, NotFound
from deskpilot.orchestrator.events import SessionEvents
from deskpilot.orchestrator.store import KnownRecord, SessionStore
from deskpilot.v1 import events_pb2, session_pb2
from tests.fixtures.auth import orchestrators_seal


def _record(
    session_id: str, status: int = session_pb2.SESSION_STATUS_STARTING
) -> session_pb2.SessionRecord:
    return session_pb2.SessionRecord(
        session=session_pb2.Session(
            id=session_id, status=status, config=session_pb2.SessionConfig(task="t")
        )
    )


async def test_records_are_created_once_read_and_deleted(bus: Bus) -> None:
    store = SessionStore(bus, orchestrators_seal())
    await store.create(_record("s-1"))
    with pytest.raises(AlreadyExists):
        await store.create(_record("s-1"))
    got = await store.get("s-1")
    assert got.session.config.task == "t"
    assert got.session.created_at.seconds > 0
    await store.delete("s-1")
    with pytest.raises(NotFound, match="session s-1 not found"):
        await store.get("s-1")
    with pytest.raises(NotFound):
        await store.delete("s-1")


async def test_concurrent_updates_are_all_applied(bus: Bus) -> None:
    store = SessionStore(bus, orchestrators_seal())
    await store.create(_record("s-2"))

    def add_step(record: session_pb2.SessionRecord) -> None:
        record.session.steps += 1

    await asyncio.gather(*(store.update("s-2", add_step) for _ in range(10)))
    assert (await store.get("s-2")).session.steps == 10


async def test_a_writer_with_a_known_revision_skips_the_read_until_someone_else_writes(
    bus: Bus,
) -> None:
    store = SessionStore(bus, orchestrators_seal())
    await store.create(_record("s-3"))
    reads = 0
    read = store._read

    async def counting_read(session_id: str):  # type: ignore[no-untyped-def]
        nonlocal reads
        reads += 1
        return await read(session_id)

    store._read = counting_read  # type: ignore[method-assign]
    known = KnownRecord()

    def add_step(record: session_pb2.SessionRecord) -> None:
        record.session.steps += 1

    await store.update("s-3", add_step, known=known)
    await store.update("s-3", add_step, known=known)
    assert reads == 1  # the second write compared against the revision the first stored
    assert known.record is not None and known.record.session.steps == 2

    def set_reason(record: session_pb2.SessionRecord) -> None:
        record.session.status_reason = "another writer"

    await store.update("s-3", set_reason)  # no known revision: not this writer's
    await store.update("s-3", add_step, known=known)  # stale: re-read, nothing lost
    stored = await store.get("s-3")
    assert stored.session.steps == 3
    assert stored.session.status_reason == "another writer"


async def test_list_filters_by_status_newest_first(bus: Bus) -> None:
    store = SessionStore(bus, orchestrators_seal())
    await store.create(_record("old", session_pb2.SESSION_STATUS_FINISHED))
    await asyncio.sleep(0.01)
    await store.create(_record("new", session_pb2.SESSION_STATUS_RUNNING))
    await asyncio.sleep(0.01)
    await store.create(_record("newest", session_pb2.SESSION_STATUS_RUNNING))
    assert [s.id for s in await store.list()] == ["newest", "new", "old"]
    running = await store.list([session_pb2.SESSION_STATUS_RUNNING])
    assert [s.id for s in running] == ["newest", "new"]


async def test_events_are_numbered_without_gaps_and_resume_after_the_last(bus: Bus) -> None:
    events = SessionEvents(bus, "s-3", producer="replica-a")
    changed = events_pb2.StatusChanged(to=session_pb2.SESSION_STATUS_RUNNING)
    await asyncio.gather(*(events.publish(0, status_changed=changed) for _ in range(5)))
    resumed = await SessionEvents.resume(bus, "s-3", producer="replica-b")
    assert resumed.last_sequence == 5
    await resumed.publish(1, user_message=events_pb2.UserMessage(text="more"))
    stored = [e async for e in bus.replay_events("s-3")]
    assert [e.sequence for e in stored] == [1, 2, 3, 4, 5, 6]
    assert [e.producer for e in stored][-2:] == ["replica-a", "replica-b"]
    assert stored[-1].WhichOneof("payload") == "user_message"
    with pytest.raises(ValueError, match="exactly one payload"):
        await resumed.publish(1)
