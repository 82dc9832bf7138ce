"""Compare-and-set helpers and ownership leases on JetStream KV buckets.

Every write that depends on what was read goes through the server's expected-last-revision
check, so two processes acting on the same key can never both succeed. The functions take a
nats-py `KeyValue` handle; `deskpilot.bus.Bus` wraps them per bucket.

Writes are not retried here: after a lost acknowledgement a retried CAS write would report a
stale revision for a write that in fact succeeded, so callers re-read and decide.

Leases: the value of a lease key is JSON `{"owner": ..., "expires_at": <unix seconds>}`. A
lease can be taken when the key is absent, expired or already held by the same owner; expiry
uses wall-clock time because replicas on different hosts compare it, so hosts need roughly
synchronised clocks (well under the TTL).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import time
from dataclasses import dataclass

import nats.js.errors
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

log = logging.getLogger(__name__)

# Server error codes for "wrong last sequence" (JSStreamWrongLastSequenceErrF and its
# constant variant); nats-py only maps them for update/create, not for delete.
_WRONG_LAST_SEQUENCE = (10071, 10164)
# Same rule as nats-py's key check: tokens of these characters, no leading/trailing dot.
_KEY_RE = re.compile(r"^[-/_=.a-zA-Z0-9]+$")
# Each failed CAS attempt means another writer won; a few rounds settle any race.
_MAX_CAS_ROUNDS = 8


class StaleRevision(Exception):
    """The key's stored revision is not the one the write expected."""


class KeyExists(StaleRevision):
    """`kv_create` found the key already present."""


class LeaseLost(Exception):
    """The lease is no longer ours: another owner took it over or it was removed."""


@dataclass(frozen=True, slots=True)
class LeaseHandle:
    """A lease we hold, as of the write that produced `revision`.

    Handles are immutable: `renew_lease` returns a new one, which must be used from then on.
    """

    key: str
    owner: str
    revision: int
    expires_at: float
    ttl_seconds: float


def _bucket(kv: KeyValue) -> str:
    # nats-py keeps the bucket name only in a private attribute; used for messages only.
    return str(getattr(kv, "_name", "?"))


def _stale(kv: KeyValue, key: str, revision: int | None) -> StaleRevision:
    return StaleRevision(
        f"key {key!r} in bucket {_bucket(kv)!r} is no longer at revision {revision}"
    )


def check_key(key: str) -> None:
    """Raise ValueError unless `key` is a valid KV key."""
    if not _KEY_RE.match(key) or key.startswith(".") or key.endswith(".") or ".." in key:
        raise ValueError(f"invalid KV key {key!r}: use letters, digits and -/_=. (no empty tokens)")


async def kv_get(kv: KeyValue, key: str) -> tuple[bytes, int] | None:
    """The current value and revision of `key`, or None if absent or deleted."""
    check_key(key)
    try:
        entry = await kv.get(key)
    except nats.js.errors.KeyNotFoundError:  # also raised for delete/purge markers
        return None
    return (entry.value or b""), entry.revision


async def kv_create(kv: KeyValue, key: str, value: bytes) -> int:
    """Store `value` under `key` only if the key is absent (or deleted); return its revision.

    Raises KeyExists (a StaleRevision) if the key already holds a value.
    """
    check_key(key)
    try:
        return await kv.create(key, value)
    except nats.js.errors.KeyWrongLastSequenceError as err:
        raise KeyExists(f"key {key!r} already exists in bucket {_bucket(kv)!r}") from err


async def kv_update(kv: KeyValue, key: str, value: bytes, expected_revision: int) -> int:
    """Replace the value of `key` if its revision is still `expected_revision`; return the new one.

    Raises StaleRevision if the key changed (or was deleted) since that revision.
    """
    check_key(key)
    if expected_revision < 1:
        raise ValueError(f"expected_revision must be >= 1, got {expected_revision}")
    try:
        return await kv.update(key, value, last=expected_revision)
    except nats.js.errors.KeyWrongLastSequenceError as err:
        raise _stale(kv, key, expected_revision) from err


async def kv_delete(kv: KeyValue, key: str, expected_revision: int | None = None) -> None:
    """Delete `key`; with `expected_revision`, only if it is still at that revision.

    Raises StaleRevision if `expected_revision` is given and no longer current.
    """
    check_key(key)
    if expected_revision is not None and expected_revision < 1:
        raise ValueError(f"expected_revision must be >= 1, got {expected_revision}")
    try:
        await kv.delete(key, last=expected_revision)
    except nats.js.errors.APIError as err:
        if err.err_code in _WRONG_LAST_SEQUENCE:
            raise _stale(kv, key, expected_revision) from err
        raise


async def kv_keys(js: JetStreamContext, kv: KeyValue, bucket: str) -> list[str]:
    """Every live key of the bucket (deleted and purged keys left out), sorted.

    nats-py's `KeyValue.keys()` lists through a watcher, which skips a key that is updated
    while the listing runs and may return another twice. The stream's own count of messages
    per subject is one consistent snapshot instead (a KV bucket is the stream
    `KV_<bucket>` with one subject `$KV.<bucket>.<key>` per key); delete and purge markers
    are messages too, so each key is then read and the dead ones left out.
    """
    prefix = f"$KV.{bucket}."
    info = await js.stream_info(f"KV_{bucket}", subjects_filter=f"{prefix}>")
    keys = sorted(subject[len(prefix) :] for subject in (info.state.subjects or {}))
    entries = await asyncio.gather(*(kv_get(kv, key) for key in keys))
    return [key for key, entry in zip(keys, entries, strict=True) if entry is not None]


def _lease_value(owner: str, expires_at: float) -> bytes:
    return json.dumps({"owner": owner, "expires_at": expires_at}).encode()


def _parse_lease(key: str, data: bytes) -> tuple[str, float]:
    """(owner, expires_at) of a stored lease; an unreadable value counts as expired so a
    corrupt key cannot block its resource forever."""
    try:
        doc = json.loads(data)
        owner, expires_at = doc["owner"], float(doc["expires_at"])
        if not isinstance(owner, str) or not math.isfinite(expires_at):
            raise ValueError("bad field types")
    except (ValueError, KeyError, TypeError) as err:
        log.warning("lease %r holds an unreadable value (%s); treating it as expired", key, err)
        return "", 0.0
    return owner, expires_at


def _check_lease_args(owner: str, ttl_seconds: float) -> None:
    if not owner:
        raise ValueError("lease owner must not be empty")
    if not (ttl_seconds > 0 and math.isfinite(ttl_seconds)):
        raise ValueError(f"ttl_seconds must be a positive number, got {ttl_seconds}")


async def acquire_lease(
    kv: KeyValue, key: str, owner: str, ttl_seconds: float
) -> LeaseHandle | None:
    """Take the lease on `key` for `owner` for `ttl_seconds`, or return None if another owner
    holds an unexpired lease.

    Succeeds when the key is absent, expired or already held by `owner` (then the expiry is
    extended). Every write is compare-and-set, so of several racing owners exactly one wins.
    Owner ids must be unique per process: two racers with the same owner id may both succeed
    (the older handle then fails to renew).
    """
    check_key(key)
    _check_lease_args(owner, ttl_seconds)
    for _ in range(_MAX_CAS_ROUNDS):
        current = await kv_get(kv, key)
        now = time.time()
        expires_at = now + ttl_seconds
        value = _lease_value(owner, expires_at)
        try:
            if current is None:
                revision = await kv_create(kv, key, value)
            else:
                data, current_revision = current
                holder, held_until = _parse_lease(key, data)
                if holder != owner and held_until > now:
                    return None
                revision = await kv_update(kv, key, value, current_revision)
        except StaleRevision:
            continue  # someone wrote in between: look again at what they wrote
        return LeaseHandle(key, owner, revision, expires_at, ttl_seconds)
    # Other writers kept winning every round, so the lease is not ours.
    return None


async def renew_lease(
    kv: KeyValue, handle: LeaseHandle, ttl_seconds: float | None = None
) -> LeaseHandle:
    """Extend a held lease by `ttl_seconds` (default: the handle's TTL) from now.

    Returns the new handle. Raises LeaseLost if the key changed since `handle` was issued
    (taken over, released or deleted). A lease that expired but that nobody took over is
    still ours and renews.
    """
    ttl = handle.ttl_seconds if ttl_seconds is None else ttl_seconds
    _check_lease_args(handle.owner, ttl)
    expires_at = time.time() + ttl
    try:
        revision = await kv_update(
            kv, handle.key, _lease_value(handle.owner, expires_at), handle.revision
        )
    except StaleRevision as err:
        raise LeaseLost(f"lease {handle.key!r} is no longer held by {handle.owner!r}") from err
    return LeaseHandle(handle.key, handle.owner, revision, expires_at, ttl)


async def release_lease(kv: KeyValue, handle: LeaseHandle) -> bool:
    """Give the lease up. Returns False (and changes nothing) if it was no longer ours."""
    try:
        await kv_delete(kv, handle.key, expected_revision=handle.revision)
    except StaleRevision:
        return False
    return True
