"""Session records in the NATS KV bucket, changed only by compare-and-set.

Every operation rides out a NATS restart (the bus retries for up to 30 s): reads are safe
to repeat, and a repeated compare-and-set that finds a newer revision re-reads and re-applies.

Any replica may update a record (a status change, usage after a step); a concurrent
update makes the compare-and-set fail and the change is re-applied to the fresh record,
so no update is lost.

A record's sandbox secrets are stored sealed (`sealed_secrets.py`) and opened as they are
read: callers see `sandbox_secrets` as if it were stored, and NATS never holds them plain.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from google.protobuf.timestamp_pb2 import Timestamp

from deskpilot.bus import SESSIONS_BUCKET, Bus
from deskpilot.bus.kv import KeyExists, StaleRevision
from deskpilot.common.errors import AlreadyExists, NotFound
from deskpilot.orchestrator.sealed_secrets import SealBroken, SecretsSeal
from deskpilot.v1 import session_pb2

log = logging.getLogger(__name__)
_MAX_ATTEMPTS = 20


@dataclass
class KnownRecord:
    """A writer's last stored record and its revision (see SessionStore.update)."""

    record: session_pb2.SessionRecord | None = None
    revision: int = 0


class SessionStore:
    """Reads and writes SessionRecords."""

    def __init__(self, bus: Bus, seal: SecretsSeal) -> None:
        self.bus = bus
        self.seal = seal

    async def create(self, record: session_pb2.SessionRecord) -> None:
        """Store a new record; AlreadyExists if the id is taken."""
        _touch(record)
        try:
            # Not retried (the bus does not repeat a create): after a lost acknowledgement a
            # retry would find its own record. The client's retry with the same request_id
            # finds it instead.
            await self.bus.kv_create(SESSIONS_BUCKET, record.session.id, self._encode(record))
        except KeyExists:
            raise AlreadyExists(f"session {record.session.id} already exists") from None

    async def get(self, session_id: str) -> session_pb2.SessionRecord:
        """The record; NotFound if there is none."""
        record, _ = await self._read(session_id)
        return record

    async def update(
        self,
        session_id: str,
        change: Callable[[session_pb2.SessionRecord], None],
        known: KnownRecord | None = None,
    ) -> session_pb2.SessionRecord:
        """Apply `change` to the current record and store it, retrying on a concurrent write.

        With `known` (the record and revision this caller wrote last) the first attempt
        skips the read: one round trip instead of two while nobody else writes.
        `known` is updated to what was stored."""
        for attempt in range(_MAX_ATTEMPTS):
            if attempt == 0 and known is not None and known.record is not None:
                record = session_pb2.SessionRecord()
                record.CopyFrom(known.record)
                revision = known.revision
            else:
                record, revision = await self._read(session_id)
            change(record)
            _touch(record)
            data = self._encode(record)
            try:
                stored = await self.bus.kv_update(SESSIONS_BUCKET, session_id, data, revision)
            except StaleRevision:  # someone else wrote, or our own retried write landed
                continue
            if known is not None:
                known.record, known.revision = record, stored
            return record
        raise RuntimeError(f"session {session_id}: too many concurrent updates")

    async def list(
        self, statuses: Iterable[session_pb2.SessionStatus.ValueType] = ()
    ) -> list[session_pb2.Session]:
        """Sessions, newest first, optionally only those in `statuses`."""
        wanted = set(statuses)
        sessions = []
        keys = await self.bus.kv_keys(SESSIONS_BUCKET)
        for key in keys:
            entry = await self._get(key)
            if entry is None:  # deleted since the listing
                continue
            session = session_pb2.SessionRecord.FromString(entry[0]).session
            if not wanted or session.status in wanted:
                sessions.append(session)
        sessions.sort(key=lambda s: (s.created_at.seconds, s.created_at.nanos), reverse=True)
        return sessions

    async def delete(self, session_id: str) -> None:
        """Forget the record; NotFound if there is none."""
        await self._read(session_id)
        await self.bus.kv_delete(SESSIONS_BUCKET, session_id)

    async def _get(self, key: str) -> tuple[bytes, int] | None:
        return await self.bus.kv_get(SESSIONS_BUCKET, key)

    async def _read(self, session_id: str) -> tuple[session_pb2.SessionRecord, int]:
        entry = await self._get(session_id)
        if entry is None:
            raise NotFound(f"session {session_id} not found")
        data, revision = entry
        return self._decode(data), revision

    def _encode(self, record: session_pb2.SessionRecord) -> bytes:
        stored = session_pb2.SessionRecord()
        stored.CopyFrom(record)
        stored.ClearField("sandbox_secrets")
        stored.sealed_sandbox_secrets = self.seal.seal(record.session.id, record.sandbox_secrets)
        return stored.SerializeToString()

    def _decode(self, data: bytes) -> session_pb2.SessionRecord:
        record = session_pb2.SessionRecord.FromString(data)
        sealed = record.sealed_sandbox_secrets
        record.ClearField("sealed_sandbox_secrets")
        try:
            record.sandbox_secrets.CopyFrom(self.seal.open(record.session.id, sealed))
        except SealBroken as err:
            # Without its secrets the sandbox cannot be reached: the session gets a fresh
            # one, as after losing it, rather than failing.
            log.error("%s; the session will start a fresh sandbox", err)
            record.ClearField("sandbox_endpoints")
        return record


def _touch(record: session_pb2.SessionRecord) -> None:
    now = Timestamp()
    now.GetCurrentTime()
    record.session.updated_at.CopyFrom(now)
    if not record.session.HasField("created_at"):
        record.session.created_at.CopyFrom(now)
