"""NATS lets in only the identities deskpilot gives out, each only where its role needs:
anonymous and unknown clients are refused at once, the gateway reads events and
screenshots but writes nothing, and an event stored by anyone but the session's writer
(a forger reusing the next message id, a replica that lost its lease) makes the writer's
next publish fail instead of vanishing into the sequence. Real nats-server, real nkeys."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from deskpilot.bus import (
    LEASES_BUCKET,
    SCREENSHOTS_BUCKET,
    SESSIONS_BUCKET,
    Bus,
    BusRefused,
    EventOrderConflict,
    control_subject,
    event_msg_id,
    events_subject,
)
from deskpilot.bus.identities import (
    BusRole,
    authorization,
    new_seed,
    public_key,
    write_seed,
)
from deskpilot.common.natsserver import NatsServer
from deskpilot.v1 import events_pb2

SESSION = "s-authz"
# How long a refused write may take to show it was refused (the server does not answer a
# publish it forbids, so the client waits): short, and no part of what is asserted.
REFUSED_WITHIN = 2.0


@dataclass(frozen=True)
class SecuredNats:
    server: NatsServer
    seeds: dict[BusRole, Path]

    async def connect(self, role: BusRole, name: str = "") -> Bus:
        return await Bus.connect(self.server.url, name or str(role), seed_file=self.seeds[role])


@pytest.fixture
def secured_nats(tmp_path: Path) -> Iterator[SecuredNats]:
    seeds = {}
    for role in BusRole:
        seeds[role] = tmp_path / f"{role}.nk"
        write_seed(seeds[role], new_seed())
    users = {role: public_key(path.read_bytes().strip()) for role, path in seeds.items()}
    server = NatsServer(tmp_path / "nats", authorization=authorization(users))
    server.start()
    try:
        yield SecuredNats(server, seeds)
    finally:
        server.stop()


@pytest.fixture
async def orchestrator(secured_nats: SecuredNats) -> AsyncIterator[Bus]:
    bus = await secured_nats.connect(BusRole.ORCHESTRATOR)
    await bus.ensure_resources()
    try:
        yield bus
    finally:
        await bus.close()


def _event(sequence: int, text: str = "") -> events_pb2.Event:
    return events_pb2.Event(
        session_id=SESSION,
        sequence=sequence,
        producer="replica-a",
        user_message=events_pb2.UserMessage(text=text or f"event {sequence}"),
    )


async def _stored(bus: Bus) -> list[tuple[int, str]]:
    return [(e.sequence, e.user_message.text) async for e in bus.replay_events(SESSION)]


async def test_anonymous_and_unknown_clients_are_refused_at_once(
    secured_nats: SecuredNats, tmp_path: Path
) -> None:
    with pytest.raises(BusRefused, match="refused client anonymous without credentials"):
        await Bus.connect(secured_nats.server.url, "anonymous", connect_timeout=30)
    stranger = tmp_path / "stranger.nk"
    write_seed(stranger, new_seed())  # a valid nkey the server was never told about
    with pytest.raises(BusRefused, match="Authorization Violation"):
        await Bus.connect(
            secured_nats.server.url, "stranger", seed_file=stranger, connect_timeout=30
        )


async def test_the_gateway_reads_events_and_screenshots_and_writes_nothing(
    secured_nats: SecuredNats, orchestrator: Bus
) -> None:
    position = await orchestrator.publish_event(_event(1), after=0)
    await orchestrator.put_object(
        SCREENSHOTS_BUCKET, f"{SESSION}/1.png", b"\x89PNG...", "image/png"
    )
    await orchestrator.kv_create(SESSIONS_BUCKET, SESSION, b"record")

    gateway = await secured_nats.connect(BusRole.GATEWAY)
    try:
        assert await gateway.unreachable_reason() is None
        assert await _stored(gateway) == [(1, "event 1")]
        got = await gateway.get_object(SCREENSHOTS_BUCKET, f"{SESSION}/1.png")
        assert got == b"\x89PNG..."

        forged = _event(2, "forged by the gateway")
        with pytest.raises(Exception) as refused:
            await gateway.publish_event(forged, after=position, deadline=REFUSED_WITHIN)
        assert not isinstance(refused.value, EventOrderConflict)
        writes = {
            "record read": gateway.kv_get(SESSIONS_BUCKET, SESSION),
            "record write": gateway.kv_update(SESSIONS_BUCKET, SESSION, b"x", 1),
            "lease": gateway.acquire_lease(SESSION, "gateway", 10),
            "screenshot": gateway.put_object(SCREENSHOTS_BUCKET, f"{SESSION}/2.png", b"x", "x"),
            "control request": gateway.request(control_subject(SESSION), b"", REFUSED_WITHIN),
        }
        for what, write in writes.items():
            with pytest.raises(Exception) as refused:
                await asyncio.wait_for(write, REFUSED_WITHIN * 3)
            assert refused.value is not None, what
    finally:
        await gateway.close()
    # Nothing the gateway tried is stored.
    assert await _stored(orchestrator) == [(1, "event 1")]
    assert await orchestrator.kv_get(SESSIONS_BUCKET, SESSION) == (b"record", 1)
    assert await orchestrator.kv_keys(LEASES_BUCKET) == []


async def test_a_forged_event_makes_the_writers_next_publish_fail(
    secured_nats: SecuredNats, orchestrator: Bus
) -> None:
    position = await orchestrator.publish_event(_event(1), after=0)
    # Someone else with publish rights (a replica that lost its lease) stores "event 2"
    # under the id the writer will use next.
    other = await secured_nats.connect(BusRole.ORCHESTRATOR, "replica-b")
    try:
        await other.js.publish(
            events_subject(SESSION),
            _event(2, "forged").SerializeToString(),
            headers={"Nats-Msg-Id": event_msg_id(SESSION, 2)},
        )
    finally:
        await other.close()
    # Deduplicating by message id alone, the real event 2 would be taken for a duplicate
    # and dropped.
    with pytest.raises(EventOrderConflict, match="this writer did not store"):
        await orchestrator.publish_event(_event(2, "the user's message"), after=position)
    # A writer that believes it is at an older position is refused too.
    with pytest.raises(EventOrderConflict, match="this writer did not store"):
        await orchestrator.publish_event(_event(3), after=position)
    assert await _stored(orchestrator) == [(1, "event 1"), (2, "forged")]


async def test_a_retried_publish_of_the_same_event_is_stored_once(orchestrator: Bus) -> None:
    first = await orchestrator.publish_event(_event(1), after=0)
    # The acknowledgement was lost and the writer sends the same event again.
    again = await orchestrator.publish_event(_event(1), after=0)
    assert again == first
    second = await orchestrator.publish_event(_event(2), after=first)
    assert second > first
    assert await orchestrator.last_event_position(SESSION) == second
    assert await _stored(orchestrator) == [(1, "event 1"), (2, "event 2")]


async def test_a_session_deleted_and_created_again_under_its_id_keeps_its_new_events(
    orchestrator: Bus,
) -> None:
    await orchestrator.publish_event(_event(1, "before"), after=0)
    await orchestrator.purge_session_events(SESSION)
    # Within the duplicate window the id `<session>:1` is still taken; the new event 1
    # must be stored all the same, not taken for the deleted one.
    position = await orchestrator.last_event_position(SESSION)
    await orchestrator.publish_event(_event(1, "after"), after=position)
    assert await _stored(orchestrator) == [(1, "after")]
