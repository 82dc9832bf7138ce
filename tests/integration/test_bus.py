"""The NATS bus against a real nats-server: event history, restarts, dedup, KV CAS, leases,
objects, request/reply and resource setup."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from nats.js.api import StorageType

from deskpilot.bus import (
    EVENT_MAX_BYTES,
    EVENTS_STREAM,
    LEASES_BUCKET,
    SCREENSHOTS_BUCKET,
    SESSIONS_BUCKET,
    Bus,
    BusConfigError,
    BusUnavailable,
    EventStoreFull,
    NoResponders,
    ObjectNotFound,
    control_subject,
    events_subject,
)
from deskpilot.bus.client import DUPLICATE_WINDOW_SECONDS, PUBLISH_ATTEMPT_TIMEOUT_SECONDS
from deskpilot.bus.kv import KeyExists, LeaseLost, StaleRevision
from deskpilot.common.natsserver import NatsServer
from deskpilot.common.net import free_port
from deskpilot.v1 import events_pb2
from tests.helpers.event_store import fill_with_events

pytestmark = pytest.mark.timeout(60)


def make_event(session_id: str, sequence: int, text: str | None = None) -> events_pb2.Event:
    event = events_pb2.Event(session_id=session_id, sequence=sequence, step=sequence // 10)
    event.time.GetCurrentTime()
    event.user_message.text = text if text is not None else f"message {sequence}"
    event.user_message.author = "test"
    return event


async def publish_range(bus: Bus, session_id: str, first: int, last: int) -> None:
    for seq in range(first, last + 1):
        await bus.publish_event(make_event(session_id, seq))


async def collect(bus: Bus, session_id: str, from_sequence: int = 1) -> list[events_pb2.Event]:
    return [e async for e in bus.replay_events(session_id, from_sequence)]


async def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `condition` until true; fail the test with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)


async def stored_count(bus: Bus, session_id: str) -> int:
    """Messages the events stream holds for the session's subject."""
    info = await bus.js.stream_info(EVENTS_STREAM, subjects_filter=events_subject(session_id))
    return (info.state.subjects or {}).get(events_subject(session_id), 0)


# -- events ----------------------------------------------------------------------------------


async def test_replay_yields_every_event_in_order(bus: Bus) -> None:
    await publish_range(bus, "sess-a", 1, 100)
    await publish_range(bus, "sess-b", 1, 20)  # interleaved: another session's history
    await publish_range(bus, "sess-a", 101, 200)

    everything = await collect(bus, "sess-a")
    assert [e.sequence for e in everything] == list(range(1, 201))
    assert {e.session_id for e in everything} == {"sess-a"}
    assert everything[41].user_message.text == "message 42"

    tail = await collect(bus, "sess-a", from_sequence=150)
    assert [e.sequence for e in tail] == list(range(150, 201))

    assert [e.sequence for e in await collect(bus, "sess-b")] == list(range(1, 21))
    assert await collect(bus, "sess-a", from_sequence=201) == []
    assert await collect(bus, "no-such-session") == []


async def test_follow_survives_server_restart(bus: Bus, nats_server: NatsServer) -> None:
    session, half, total = "sess-restart", 40, 80
    received: list[int] = []

    async def follow() -> None:
        async for event in bus.replay_events(session, follow=True):
            received.append(event.sequence)

    follower = asyncio.create_task(follow())
    try:
        await publish_range(bus, session, 1, half)
        await wait_until(lambda: len(received) >= half, 10, "the first half")
        port_before = nats_server.port

        # Restart in a thread while the second half is being published: publishes issued
        # while the server is down must retry until it is back.
        restart = asyncio.create_task(asyncio.to_thread(nats_server.restart))
        await publish_range(bus, session, half + 1, total)
        await restart
        assert nats_server.port == port_before

        await wait_until(lambda: len(received) >= total, 20, "the second half")
        # A marker event: once it arrives, anything duplicated before it would have too.
        await bus.publish_event(make_event(session, total + 1))
        await wait_until(lambda: len(received) >= total + 1, 10, "the marker event")
        assert received == list(range(1, total + 2))
    finally:
        follower.cancel()
        await asyncio.gather(follower, return_exceptions=True)

    assert await stored_count(bus, session) == total + 1
    assert [e.sequence for e in await collect(bus, session)] == list(range(1, total + 2))


async def test_publish_while_server_is_down_lands_once(bus: Bus, nats_server: NatsServer) -> None:
    await bus.publish_event(make_event("sess-down", 1))
    await asyncio.to_thread(nats_server.stop)

    publish = asyncio.create_task(bus.publish_event(make_event("sess-down", 2), deadline=20))
    # Stay down longer than one attempt waits for its acknowledgement, so the publish must
    # be sent again.
    await asyncio.sleep(PUBLISH_ATTEMPT_TIMEOUT_SECONDS + 0.5)
    assert not publish.done()
    await asyncio.to_thread(nats_server.start)
    seq = await publish

    assert seq == 2  # second message of the stream: stored once
    # The server rebuilt its duplicate tracking from disk: a re-publish is still recognised.
    assert await bus.publish_event(make_event("sess-down", 1)) == 1
    assert await stored_count(bus, "sess-down") == 2
    assert [e.sequence for e in await collect(bus, "sess-down")] == [1, 2]


async def test_republished_event_is_stored_once(bus: Bus) -> None:
    first = await bus.publish_event(make_event("sess-dup", 1, text="original"))
    again = await bus.publish_event(make_event("sess-dup", 1, text="original"))
    changed = await bus.publish_event(make_event("sess-dup", 1, text="a different payload"))

    assert first == again == changed
    assert await stored_count(bus, "sess-dup") == 1
    replayed = await collect(bus, "sess-dup")
    assert [(e.sequence, e.user_message.text) for e in replayed] == [(1, "original")]


async def test_publish_rejects_invalid_events(bus: Bus) -> None:
    with pytest.raises(ValueError, match="sequence"):
        await bus.publish_event(make_event("sess-x", 0))
    with pytest.raises(ValueError, match="session id"):
        await bus.publish_event(make_event("", 1))
    with pytest.raises(ValueError, match="session id"):
        await bus.publish_event(make_event("a.b", 1))
    too_big = make_event("sess-x", 1, text="x" * (1024 * 1024))
    with pytest.raises(ValueError, match="object store"):
        await bus.publish_event(too_big)
    assert await stored_count(bus, "sess-x") == 0


@pytest.mark.parametrize("bad", ["", "a.b", "a*", "a>", "a b", "ä", "x" * 257])
def test_subjects_reject_unsafe_session_ids(bad: str) -> None:
    with pytest.raises(ValueError):
        events_subject(bad)
    with pytest.raises(ValueError):
        control_subject(bad)


def test_subjects() -> None:
    assert events_subject("S-1_x") == "deskpilot.sessions.S-1_x.events"
    assert control_subject("S-1_x") == "deskpilot.sessions.S-1_x.control"


# -- KV and leases ---------------------------------------------------------------------------


async def test_kv_compare_and_set_refuses_stale_revision(bus: Bus) -> None:
    rev1 = await bus.kv_create(SESSIONS_BUCKET, "s1", b"v1")
    with pytest.raises(KeyExists):
        await bus.kv_create(SESSIONS_BUCKET, "s1", b"other")

    rev2 = await bus.kv_update(SESSIONS_BUCKET, "s1", b"v2", expected_revision=rev1)
    assert rev2 > rev1
    with pytest.raises(StaleRevision):
        await bus.kv_update(SESSIONS_BUCKET, "s1", b"stale write", expected_revision=rev1)
    assert await bus.kv_get(SESSIONS_BUCKET, "s1") == (b"v2", rev2)

    with pytest.raises(StaleRevision):
        await bus.kv_delete(SESSIONS_BUCKET, "s1", expected_revision=rev1)
    assert await bus.kv_get(SESSIONS_BUCKET, "s1") == (b"v2", rev2)

    await bus.kv_delete(SESSIONS_BUCKET, "s1", expected_revision=rev2)
    assert await bus.kv_get(SESSIONS_BUCKET, "s1") is None
    with pytest.raises(StaleRevision):  # deleting leaves a newer revision behind
        await bus.kv_update(SESSIONS_BUCKET, "s1", b"v3", expected_revision=rev2)
    rev4 = await bus.kv_create(SESSIONS_BUCKET, "s1", b"v4")  # absent again: create works
    assert await bus.kv_get(SESSIONS_BUCKET, "s1") == (b"v4", rev4)
    assert await bus.kv_get(SESSIONS_BUCKET, "never-written") is None


async def test_purging_one_session_keeps_the_others(bus: Bus) -> None:
    for session in ("keep", "drop"):
        for seq in (1, 2):
            await bus.publish_event(events_pb2.Event(session_id=session, sequence=seq))
    await bus.purge_session_events("drop")
    assert [e.sequence async for e in bus.replay_events("drop")] == []
    assert [e.sequence async for e in bus.replay_events("keep")] == [1, 2]


async def test_kv_keys_lists_live_keys_only(bus: Bus) -> None:
    assert await bus.kv_keys(SESSIONS_BUCKET) == []
    for key in ("b", "a", "c"):
        await bus.kv_create(SESSIONS_BUCKET, key, b"x")
    await bus.kv_delete(SESSIONS_BUCKET, "c")
    assert await bus.kv_keys(SESSIONS_BUCKET) == ["a", "b"]


async def test_kv_keys_lists_every_key_once_while_keys_are_updated(bus: Bus) -> None:
    # A listing through a watcher skipped keys updated meanwhile and listed others twice,
    # so session pages repeated one session and lost another.
    keys = [f"k{i:02d}" for i in range(30)]
    for key in keys:
        await bus.kv_create(SESSIONS_BUCKET, key, b"v" * 100_000)
    stop = asyncio.Event()

    async def keep_updating() -> None:
        while not stop.is_set():
            for key in keys:
                _, revision = await bus.kv_get(SESSIONS_BUCKET, key)
                await bus.kv_update(SESSIONS_BUCKET, key, b"w" * 100_000, revision)

    updater = asyncio.create_task(keep_updating())
    try:
        listings = [await bus.kv_keys(SESSIONS_BUCKET) for _ in range(15)]
    finally:
        stop.set()
        await updater
    assert all(listing == keys for listing in listings)


async def test_lease_has_one_winner_and_expires(bus: Bus) -> None:
    owners = [f"replica-{i}" for i in range(12)]
    # A long TTL first, so the lease cannot expire before the loser's attempt below.
    results = await asyncio.gather(*(bus.acquire_lease("session.s1", o, 5) for o in owners))
    winners = [h for h in results if h is not None]
    assert len(winners) == 1
    winner = winners[0]
    stored = await bus.kv_get(LEASES_BUCKET, "session.s1")
    assert stored is not None and stored[1] == winner.revision
    assert json.loads(stored[0]) == {"owner": winner.owner, "expires_at": winner.expires_at}

    loser = next(o for o in owners if o != winner.owner)
    assert await bus.acquire_lease("session.s1", loser, 5) is None
    # The holder may re-acquire its own lease (here: shorten it, so the test can wait it out).
    winner = await bus.acquire_lease("session.s1", winner.owner, 0.5) or pytest.fail("re-acquire")

    # The loser gets it only once the holder's lease has expired.
    taken = None
    while taken is None:
        taken = await bus.acquire_lease("session.s1", loser, 30)
        if taken is None:
            assert time.time() < winner.expires_at + 5, "lease was never taken over"
            await asyncio.sleep(0.05)
    assert time.time() >= winner.expires_at
    assert taken.owner == loser

    with pytest.raises(LeaseLost):
        await bus.renew_lease(winner)
    assert await bus.release_lease(winner) is False  # must not drop the new owner's lease
    renewed = await bus.renew_lease(taken)
    assert renewed.revision > taken.revision and renewed.owner == loser
    assert await bus.acquire_lease("session.s1", winner.owner, 0.5) is None

    assert await bus.release_lease(renewed) is True
    assert await bus.acquire_lease("session.s1", winner.owner, 0.5) is not None


# -- connection ------------------------------------------------------------------------------


async def test_connect_to_nothing_raises_bus_unavailable_quickly() -> None:
    url = f"nats://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(BusUnavailable, match=re.escape(f"cannot reach NATS at {url}: ")):
        await Bus.connect(url, "pytest", connect_timeout=1.0)
    assert time.monotonic() - started < 3.0


# -- objects ---------------------------------------------------------------------------------


async def test_object_store_round_trip_of_a_screenshot_sized_blob(bus: Bus) -> None:
    blob = os.urandom(1920 * 1080)  # ~2 MiB: larger than max_payload, so stored in chunks
    ref = await bus.put_object(SCREENSHOTS_BUCKET, "sess-1/step-3.png", blob, "image/png")

    assert ref.bucket == SCREENSHOTS_BUCKET and ref.name == "sess-1/step-3.png"
    assert ref.size == len(blob)
    assert ref.sha256 == hashlib.sha256(blob).hexdigest()
    assert ref.content_type == "image/png"
    assert await bus.get_object(SCREENSHOTS_BUCKET, ref.name) == blob

    with pytest.raises(ObjectNotFound):
        await bus.get_object(SCREENSHOTS_BUCKET, "sess-1/missing.png")


# -- request / reply -------------------------------------------------------------------------


async def test_request_reply_on_control_subject(bus: Bus) -> None:
    subject = control_subject("sess-ctl")
    with pytest.raises(NoResponders):
        await bus.request(subject, b"ping", timeout=1.0)

    async def handler(data: bytes) -> bytes:
        return b"pong:" + data

    sub = await bus.serve_requests(subject, handler)
    try:
        assert await bus.request(subject, b"1", timeout=2.0) == b"pong:1"
    finally:
        await sub.unsubscribe()
    with pytest.raises(NoResponders):
        await bus.request(subject, b"ping", timeout=1.0)


async def test_a_handler_that_stops_serving_its_subject_still_replies(bus: Bus) -> None:
    """Cancelling a session ends it, and its owner stops serving the session's control
    subject while the cancel request is being answered: the answer must still go out."""
    subject = control_subject("sess-stop")
    subscription: list = []

    async def handler(data: bytes) -> bytes:
        await subscription[0].unsubscribe()
        await asyncio.sleep(0.05)  # the rest of the work, after serving has stopped
        return b"stopped:" + data

    subscription.append(await bus.serve_requests(subject, handler))
    assert await bus.request(subject, b"1", timeout=5.0) == b"stopped:1"
    with pytest.raises(NoResponders):
        await bus.request(subject, b"again", timeout=1.0)


# -- resources -------------------------------------------------------------------------------


async def test_ensure_resources_is_idempotent(bus: Bus) -> None:
    await bus.publish_event(make_event("sess-keep", 1))
    await bus.kv_create(SESSIONS_BUCKET, "keep", b"v")
    before = await bus.js.stream_info(EVENTS_STREAM)

    await bus.ensure_resources()
    await bus.ensure_resources()

    after = await bus.js.stream_info(EVENTS_STREAM)
    assert after.config == before.config
    assert after.state.messages == 1
    assert (await bus.kv_get(SESSIONS_BUCKET, "keep") or (b"",))[0] == b"v"
    names = {info.config.name for info in await bus.js.streams_info()}
    assert names == {
        EVENTS_STREAM,
        f"KV_{SESSIONS_BUCKET}",
        f"KV_{LEASES_BUCKET}",
        f"OBJ_{SCREENSHOTS_BUCKET}",
    }


async def test_ensure_resources_rejects_a_foreign_events_stream(nats_server: NatsServer) -> None:
    async with await Bus.connect(nats_server.url, "pytest") as bus:
        await bus.js.add_stream(name=EVENTS_STREAM, subjects=["something.else.>"])
        with pytest.raises(BusConfigError, match=re.escape("something.else.>")):
            await bus.ensure_resources()


async def test_ensure_resources_restores_the_events_stream_limits(
    nats_server: NatsServer,
) -> None:
    async with await Bus.connect(nats_server.url, "pytest") as bus:
        await bus.js.add_stream(
            name=EVENTS_STREAM,
            subjects=["deskpilot.sessions.*.events"],
            storage=StorageType.FILE,
            duplicate_window=10,
        )
        await bus.ensure_resources()
        config = (await bus.js.stream_info(EVENTS_STREAM)).config
        assert config.duplicate_window == DUPLICATE_WINDOW_SECONDS
        assert config.max_msg_size == EVENT_MAX_BYTES


# -- the server process ----------------------------------------------------------------------


def test_servers_run_side_by_side_and_keep_their_port(tmp_path: Path) -> None:
    with NatsServer(tmp_path / "a") as a, NatsServer(tmp_path / "b") as b:
        assert a.port != b.port and a.pid != b.pid
        url = a.url
        a.restart()
        assert a.url == url and a.is_running
    assert a.pid is None and b.pid is None


def test_server_that_cannot_start_reports_its_log(tmp_path: Path) -> None:
    with NatsServer(tmp_path / "a") as a:
        clash = NatsServer(tmp_path / "b", port=a.port)
        with pytest.raises(RuntimeError, match="address already in use"):
            clash.start(timeout=5)
        assert not clash.is_running


# -- a full event store ----------------------------------------------------------------------

_STORE_LIMIT = 600_000  # bytes of JetStream file storage on the small server below


@pytest.fixture
async def small_bus(tmp_path: Path) -> AsyncIterator[Bus]:
    """A Bus on a nats-server whose JetStream may store only _STORE_LIMIT bytes."""
    with NatsServer(tmp_path / "nats", max_file_store=_STORE_LIMIT) as server:
        connected = await Bus.connect(server.url, "pytest")
        try:
            await connected.ensure_resources()
            yield connected
        finally:
            await connected.close()


async def test_a_full_store_is_reported_at_once_and_deleted_events_give_space_back(
    small_bus: Bus,
) -> None:
    stored = await fill_with_events(small_bus, "filler")
    assert stored > 0
    # Every kind of write is refused the same way, without being retried as an outage.
    with pytest.raises(EventStoreFull, match=r"event store full: .*insufficient resources"):
        await small_bus.kv_create(SESSIONS_BUCKET, "s-new", b"record")
    with pytest.raises(EventStoreFull):
        await small_bus.put_object(SCREENSHOTS_BUCKET, "s-new/1.png", b"png", "image/png")
    with pytest.raises(EventStoreFull):
        await small_bus.acquire_lease("session.s-new", "replica", 5)
    # Reads still work.
    assert len([e async for e in small_bus.replay_events("filler")]) == stored

    # Dropping one session's events gives their space back: writes work again at once.
    await small_bus.purge_session_events("filler")
    assert await small_bus.kv_create(SESSIONS_BUCKET, "s-new", b"record") > 0
    await small_bus.publish_event(events_pb2.Event(session_id="s-new", sequence=1))


async def test_deleted_screenshots_give_their_space_back(small_bus: Bus) -> None:
    blob = os.urandom(200_000)
    names = []
    with pytest.raises(EventStoreFull):
        for index in range(100):
            await small_bus.put_object(SCREENSHOTS_BUCKET, f"s-1/{index}.png", blob, "image/png")
            names.append(f"s-1/{index}.png")
    assert names  # some fitted before the store was full
    assert await small_bus.delete_objects(SCREENSHOTS_BUCKET, "s-1/") >= len(names)
    with pytest.raises(ObjectNotFound):
        await small_bus.get_object(SCREENSHOTS_BUCKET, names[0])
    ref = await small_bus.put_object(SCREENSHOTS_BUCKET, "s-2/0.png", blob, "image/png")
    assert await small_bus.get_object(SCREENSHOTS_BUCKET, ref.name) == blob
