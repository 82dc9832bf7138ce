"""The deskpilot event bus on NATS JetStream (see ARCHITECTURE.md, "Events (NATS)").

- Session events: one protobuf `Event` per message on `deskpilot.sessions.<id>.events`, kept
  in the `DESKPILOT_EVENTS` stream. Each is published with the message id
  `<session_id>:<sequence>`, so a retried publish is stored once (within the duplicate window).
  `replay_events` reads a session's history with an ordered consumer and can keep following.
- Session records and ownership leases live in KV buckets, written only by compare-and-set
  (helpers in kv.py).
- Screenshots go to an object store and are referenced from events by `ObjectRef`.
- Commands for whichever replica owns a session travel as requests on
  `deskpilot.sessions.<id>.control`.

The first connect is bounded and raises BusUnavailable; once connected, the client reconnects
forever, and every operation that is safe to repeat (publishing an event, reads,
compare-and-set writes) retries through outages until its deadline (retry.py): callers
never retry NATS themselves. This package is the only user of nats-py, so a component
without it (the sandbox) carries no NATS client.

A write JetStream refuses for lack of space (a server, account or stream storage limit) raises
EventStoreFull at once instead of being retried as an outage: nothing can be stored until an
operator frees space, and callers report that (RESOURCE_EXHAUSTED) or wait for it
(`until_stored`). Deleting a session's events and screenshots gives the space back, also on
servers whose filtered purge does not (see `Bus._purge_subject`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit, urlunsplit

import nats.errors
import nats.js.errors
from google.protobuf.message import DecodeError
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext, api
from nats.js.kv import KeyValue
from nats.js.object_store import (
    OBJ_CHUNKS_PRE_TEMPLATE,
    OBJ_META_PRE_TEMPLATE,
    OBJ_STREAM_TEMPLATE,
    ObjectStore,
)

from deskpilot.bus import kv as kvops
from deskpilot.bus.errors import (
    TRANSIENT_ERRORS,
    BusConfigError,
    BusRefused,
    BusUnavailable,
    EventOrderConflict,
    NoResponders,
    ObjectNotFound,
    out_of_order,
    refused_for_space,
)
from deskpilot.bus.kv import LeaseHandle
from deskpilot.bus.names import (
    EVENT_MAX_BYTES,
    EVENTS_STREAM,
    EVENTS_SUBJECTS,
    LEASES_BUCKET,
    SCREENSHOTS_BUCKET,
    SESSIONS_BUCKET,
    check_session_id,
    event_msg_id,
    events_subject,
)
from deskpilot.bus.retry import answered, retry_transient
from deskpilot.common.cancellation import raise_if_cancelled
from deskpilot.v1 import common_pb2, events_pb2

log = logging.getLogger(__name__)

# Retried publishes are deduplicated by message id within this window; it must exceed any
# publish deadline.
DUPLICATE_WINDOW_SECONDS = 120.0
# Longest wait for the server's answer to a readiness check before it counts as unreachable.
PING_TIMEOUT_SECONDS = 1.0
JS_API_PREFIX = "$JS.API"  # nats-py's default, which the Bus's JetStream context uses
# Longest wait for one publish acknowledgement before the publish is sent again.
PUBLISH_ATTEMPT_TIMEOUT_SECONDS = 2.0
# Replay consumers send heartbeats at this interval; two missed ones (e.g. the server
# restarted and lost the ephemeral consumer) make the ordered consumer recreate itself.
REPLAY_IDLE_HEARTBEAT_SECONDS = 1.0


# Until this nats-server version a purge filtered by subject empties the stream but keeps
# counting its bytes against the storage limit (nats-io/nats-server#3876, fixed in 2.9.15),
# so space freed that way never comes back.
_FILTERED_PURGE_FREES_SPACE_SINCE = (2, 9, 15)


def redact_url(url: str) -> str:
    """`url` (possibly comma-separated) with passwords and tokens replaced by `***`."""
    parts = []
    for part in url.split(","):
        split = urlsplit(part.strip())
        if "@" in split.netloc:
            host = split.netloc.rpartition("@")[2]
            # NATS reads a user-only userinfo as a token, which is a secret too.
            secret = f"{split.username}:***" if split.password is not None else "***"
            split = split._replace(netloc=f"{secret}@{host}")
        parts.append(urlunsplit(split))
    return ",".join(parts)


class Bus:
    """A NATS connection with deskpilot's JetStream resources. Create with `Bus.connect`."""

    def __init__(self, nc: Client, url: str, name: str) -> None:
        """Wrap a connected client; `url` (passwords redacted) is used in messages."""
        self._nc = nc
        self._js: JetStreamContext = nc.jetstream()
        self._url = url
        self._name = name
        self._kv_handles: dict[str, KeyValue] = {}
        self._replicas = 1  # of each stream (ensure_resources)
        self._object_stores: dict[str, ObjectStore] = {}
        # Request handlers still running (see serve_requests); kept so none is collected.
        self._answering: set[asyncio.Task[None]] = set()

    # -- connection ---------------------------------------------------------------------------

    @classmethod
    async def connect(
        cls,
        url: str,
        name: str,
        *,
        connect_timeout: float = 5.0,
        reconnect_wait: float = 1.0,
        seed_file: Path | None = None,
    ) -> Bus:
        """Connect to `url` (comma-separated URLs for a cluster) as client `name`, proving
        the identity whose nkey seed is in `seed_file` (see identities.py); without one the
        connection is anonymous, which a server with users refuses.

        Tries for at most `connect_timeout` seconds and raises BusUnavailable if the server
        cannot be reached. Afterwards the client reconnects forever, every `reconnect_wait`
        seconds, replaying its subscriptions.
        """
        nc = Client()
        servers = [u.strip() for u in url.split(",") if u.strip()]
        shown = redact_url(url)  # for messages and logs: no passwords
        connected = False
        last_error: BaseException | None = None
        refusal: BaseException | None = None
        connecting: asyncio.Task[None] | None = None

        async def on_error(err: Exception) -> None:
            nonlocal last_error, refusal
            if not connected:
                last_error = err  # reported by BusUnavailable; not worth a log line per attempt
                if _is_refusal(err) and connecting is not None:
                    # Trying again would be refused again: say so now, not at the deadline.
                    refusal = err
                    connecting.cancel()
                return
            log.warning("NATS client %s: %s", name, err or type(err).__name__)

        async def on_disconnected() -> None:
            if connected and not nc.is_closed:  # closing also reports a disconnect
                log.warning("NATS client %s disconnected from %s; reconnecting", name, shown)

        async def on_reconnected() -> None:
            log.info("NATS client %s reconnected to %s", name, _server_of(nc))

        connecting = asyncio.ensure_future(
            nc.connect(
                servers=servers,
                name=name,
                connect_timeout=connect_timeout,
                allow_reconnect=True,
                max_reconnect_attempts=-1,
                reconnect_time_wait=reconnect_wait,
                error_cb=on_error,
                disconnected_cb=on_disconnected,
                reconnected_cb=on_reconnected,
                nkeys_seed=str(seed_file) if seed_file is not None else None,
            )
        )
        try:
            # nats-py retries the first connect forever when max_reconnect_attempts is -1, so
            # the deadline comes from outside.
            async with asyncio.timeout(connect_timeout):
                await connecting
        except (TimeoutError, OSError, nats.errors.Error) as err:
            await _close_quietly(nc)
            reason = last_error if last_error is not None else err
            if reason is err and isinstance(err, TimeoutError):
                detail = f"no NATS handshake within {connect_timeout:g}s"
            else:
                detail = str(reason) or type(reason).__name__
                if isinstance(err, TimeoutError):
                    detail = f"{detail} (gave up after {connect_timeout:g}s)"
            raise BusUnavailable(f"cannot reach NATS at {shown}: {detail}") from reason
        except asyncio.CancelledError:
            await _close_quietly(nc)
            if refusal is None or _cancelling():
                raise
            who = "without credentials" if seed_file is None else f"with the nkey in {seed_file}"
            raise BusRefused(f"NATS at {shown} refused client {name} {who}: {refusal}") from refusal
        except BaseException:  # do not leave a half-open client behind
            await _close_quietly(nc)
            connecting.cancel()
            raise
        connected = True
        log.info("NATS client %s connected to %s", name, _server_of(nc))
        return cls(nc, shown, name)

    async def unreachable_reason(self, timeout: float = PING_TIMEOUT_SECONDS) -> str | None:
        """None when JetStream answers within `timeout` seconds, else why not (for readiness
        checks: a frozen server keeps its connections open and answers nothing)."""
        if self._nc.is_closed:
            return f"NATS at {self._url} is unreachable: the connection is closed"
        if not self._nc.is_connected:
            return f"NATS at {self._url} is unreachable: disconnected, reconnecting"
        try:
            # JetStream's account info: it answers only when JetStream, where everything
            # lives, works. (Not nc.flush: a PONG arriving after its timeout breaks the
            # client's read loop.)
            await self._nc.request(f"{JS_API_PREFIX}.INFO", b"", timeout=timeout)
        except (TimeoutError, nats.errors.Error) as err:
            detail = f"no answer within {timeout:g} s"
            if not isinstance(err, TimeoutError):
                detail = str(err) or type(err).__name__
            return f"NATS at {self._url} is unreachable: {detail}"
        return None

    async def close(self) -> None:
        """Flush and close the connection (idempotent)."""
        await _close_quietly(self._nc)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def nc(self) -> Client:
        """The underlying nats-py client."""
        return self._nc

    @property
    def js(self) -> JetStreamContext:
        """The JetStream context of the connection."""
        return self._js

    @property
    def url(self) -> str:
        return self._url

    # -- resources ----------------------------------------------------------------------------

    async def ensure_resources(self, replicas: int = 1) -> None:
        """Create deskpilot's stream, KV buckets and object store, or verify existing ones.
        `replicas`: how many servers of a JetStream cluster keep each (an existing one
        with another count is changed to it).

        Idempotent and safe to run from several processes at once. Raises BusConfigError if
        an existing resource cannot be used (e.g. the events stream has other subjects) or
        the cluster has fewer servers than `replicas`.
        """
        self._replicas = replicas
        await self._ensure_events_stream()
        await self._ensure_kv(SESSIONS_BUCKET, history=1)
        await self._ensure_kv(LEASES_BUCKET, history=1)
        await self._ensure_object_store(SCREENSHOTS_BUCKET)
        for stream in (EVENTS_STREAM, f"KV_{SESSIONS_BUCKET}", f"KV_{LEASES_BUCKET}",
                       f"OBJ_{SCREENSHOTS_BUCKET}"):  # fmt: skip
            await self._ensure_replicas(stream, replicas)

    async def _ensure_replicas(self, stream: str, replicas: int) -> None:
        info = await self._stream_info(stream)
        if info is None or info.config.num_replicas == replicas:
            return
        info.config.num_replicas = replicas
        log.info("stream %s: %d replicas", stream, replicas)
        try:
            await self._js.update_stream(info.config)
        except nats.js.errors.APIError as err:
            raise BusConfigError(
                f"cannot keep stream {stream} on {replicas} servers: "
                f"{err.description or err} (is the JetStream cluster that big?)"
            ) from err

    def _events_stream_config(self) -> api.StreamConfig:
        return api.StreamConfig(
            name=EVENTS_STREAM,
            description="deskpilot session events (protobuf deskpilot.v1.Event)",
            subjects=[EVENTS_SUBJECTS],
            storage=api.StorageType.FILE,
            retention=api.RetentionPolicy.LIMITS,
            discard=api.DiscardPolicy.OLD,
            max_age=0,  # unlimited: histories are kept until an operator purges them
            max_msgs=-1,
            max_bytes=-1,
            max_msg_size=EVENT_MAX_BYTES,
            duplicate_window=DUPLICATE_WINDOW_SECONDS,
            num_replicas=self._replicas,
            allow_direct=True,
        )

    async def _ensure_events_stream(self) -> None:
        want = self._events_stream_config()
        info = await self._stream_info(EVENTS_STREAM)
        if info is None:
            try:
                info = await self._js.add_stream(want)
            except nats.js.errors.APIError as err:
                # Either another process created it first (then verify it below) or the
                # subjects overlap another stream.
                info = await self._stream_info(EVENTS_STREAM)
                if info is None:
                    raise BusConfigError(
                        f"cannot create stream {EVENTS_STREAM} on {EVENTS_SUBJECTS}: "
                        f"{err.description or err}"
                    ) from err
        have = info.config
        if sorted(have.subjects or []) != [EVENTS_SUBJECTS]:
            raise BusConfigError(
                f"stream {EVENTS_STREAM} exists with subjects {have.subjects}, expected "
                f"[{EVENTS_SUBJECTS!r}]; fix or delete it (`nats stream rm {EVENTS_STREAM}`)"
            )
        if have.storage != api.StorageType.FILE:
            raise BusConfigError(
                f"stream {EVENTS_STREAM} uses {have.storage} storage, expected file storage"
            )
        # Limits we own may be changed in place; keep everything else as found.
        if (
            abs((have.duplicate_window or 0) - DUPLICATE_WINDOW_SECONDS) > 1e-6
            or have.max_msg_size != EVENT_MAX_BYTES
        ):
            have.duplicate_window = DUPLICATE_WINDOW_SECONDS
            have.max_msg_size = EVENT_MAX_BYTES
            log.info("updating stream %s limits", EVENTS_STREAM)
            await self._js.update_stream(have)

    async def _stream_info(self, stream: str) -> api.StreamInfo | None:
        try:
            return await self._js.stream_info(stream)
        except nats.js.errors.NotFoundError:
            return None

    async def _ensure_kv(self, bucket: str, *, history: int) -> KeyValue:
        stream = f"KV_{bucket}"
        info = await self._stream_info(stream)
        if info is None:
            try:
                await self._js.create_key_value(
                    bucket=bucket, history=history, storage=api.StorageType.FILE
                )
            except nats.js.errors.BadRequestError as err:
                if await self._stream_info(stream) is None:  # not a lost creation race
                    raise BusConfigError(f"cannot create KV bucket {bucket}: {err}") from err
            info = await self._stream_info(stream)
            if info is None:
                raise BusConfigError(f"KV bucket {bucket} vanished right after creation")
        if info.config.max_msgs_per_subject != history:
            raise BusConfigError(
                f"KV bucket {bucket} keeps history {info.config.max_msgs_per_subject}, "
                f"expected {history}"
            )
        handle = await self._js.key_value(bucket)
        self._kv_handles[bucket] = handle
        return handle

    async def _ensure_object_store(self, bucket: str) -> ObjectStore:
        try:
            store = await self._js.object_store(bucket)
        except nats.js.errors.BucketNotFoundError:
            try:
                store = await self._js.create_object_store(bucket, storage=api.StorageType.FILE)
            except nats.js.errors.BadRequestError:
                store = await self._js.object_store(bucket)  # lost a creation race
        self._object_stores[bucket] = store
        return store

    async def _kv(self, bucket: str) -> KeyValue:
        handle = self._kv_handles.get(bucket)
        if handle is None:
            try:
                handle = await self._js.key_value(bucket)
            except nats.js.errors.BucketNotFoundError as err:
                raise BusConfigError(
                    f"KV bucket {bucket} does not exist; run ensure_resources() first"
                ) from err
            self._kv_handles[bucket] = handle
        return handle

    async def _object_store(self, bucket: str) -> ObjectStore:
        store = self._object_stores.get(bucket)
        if store is None:
            try:
                store = await self._js.object_store(bucket)
            except nats.js.errors.BucketNotFoundError as err:
                raise BusConfigError(
                    f"object store {bucket} does not exist; run ensure_resources() first"
                ) from err
            self._object_stores[bucket] = store
        return store

    # -- events -------------------------------------------------------------------------------

    async def publish_event(
        self, event: events_pb2.Event, *, after: int | None = None, deadline: float = 30.0
    ) -> int:
        """Store `event` in the events stream and return its stream sequence.

        `after`: the stream sequence of the session's previous event as its writer knows it
        (0: none). JetStream then stores the event only if nothing else was stored for the
        session since (`Nats-Expected-Last-Subject-Sequence`), which also makes retries
        land once: a retry after a stored first attempt is refused, and the session's last
        event is then this one. Anything else stored there raises EventOrderConflict, so
        nothing slips into a session's sequence unnoticed. (Message ids would not do: an id
        stays taken for the duplicate window, even by a forger, or by the events of a
        deleted session whose id comes back.) Without `after` the message id
        `<session_id>:<sequence>` deduplicates retries.

        Retries with backoff on timeouts, missing responders and while reconnecting, for at
        most `deadline` seconds; the message id `<session_id>:<sequence>` makes the retries
        (and any re-publish of the same event) land exactly once. Publish a session's events
        one at a time in sequence order: replays drop an event that is not newer than the one
        before it. Raises BusUnavailable when the deadline passes, EventStoreFull at once
        when JetStream has no space for it, and ValueError for an event without session id
        or sequence.
        """
        check_session_id(event.session_id)
        if event.sequence < 1:
            raise ValueError(f"event sequence must be >= 1, got {event.sequence}")
        if deadline > DUPLICATE_WINDOW_SECONDS:
            # Retries after the window could be stored twice.
            raise ValueError(f"deadline must not exceed {DUPLICATE_WINDOW_SECONDS:g}s")
        data = event.SerializeToString()
        if len(data) > EVENT_MAX_BYTES - 1024:  # leave room for headers
            raise ValueError(
                f"event {event.session_id}:{event.sequence} is {len(data)} bytes; events must "
                f"stay under {EVENT_MAX_BYTES - 1024} bytes (put large data in the object store)"
            )
        subject = events_subject(event.session_id)
        msg_id = event_msg_id(event.session_id, event.sequence)
        headers = (
            {api.Header.MSG_ID: msg_id}
            if after is None
            else {api.Header.EXPECTED_LAST_SUBJECT_SEQUENCE: str(after)}
        )
        give_up_at = time.monotonic() + deadline
        backoff = 0.05
        while True:
            remaining = give_up_at - time.monotonic()
            try:
                with refused_for_space(f"event {msg_id}"), out_of_order(msg_id):
                    ack = await self._js.publish(
                        subject,
                        data,
                        timeout=max(0.05, min(PUBLISH_ATTEMPT_TIMEOUT_SECONDS, remaining)),
                        stream=EVENTS_STREAM,
                        headers=headers,
                    )
            except EventOrderConflict:
                # A first attempt whose acknowledgement was lost is the session's last event.
                last = await self._last_event(subject)
                if last is not None and last[1] == data:
                    return last[0]
                raise
            except TRANSIENT_ERRORS as err:
                remaining = give_up_at - time.monotonic()
                if remaining <= 0:
                    hint = ""
                    if isinstance(err, nats.js.errors.NoStreamResponseError):
                        hint = " (no stream answered: has ensure_resources() run?)"
                    raise BusUnavailable(
                        f"NATS is unreachable: could not publish event {msg_id} to "
                        f"{self._url} within {deadline:g}s: {err!r}{hint}"
                    ) from err
                log.debug("publish of %s failed (%r); retrying", msg_id, err)
                raise_if_cancelled()
                await asyncio.sleep(min(backoff, remaining))
                backoff = min(backoff * 2, 1.0)
                continue
            if ack.duplicate:
                log.debug("event %s was already stored at stream sequence %d", msg_id, ack.seq)
            return ack.seq

    async def _last_event(self, subject: str) -> tuple[int, bytes] | None:
        """The stream sequence and payload of the newest message on `subject`, if any."""

        async def last() -> tuple[int, bytes] | None:
            try:
                msg = await self._js.get_last_msg(EVENTS_STREAM, subject)
            except nats.js.errors.NotFoundError:
                return None
            return msg.seq or 0, msg.data or b""

        return await retry_transient(last, what=f"the last message on {subject}")

    async def last_event_position(self, session_id: str) -> int:
        """The stream sequence of the session's newest event, 0 if it has none: the `after`
        of its next publish_event."""
        last = await self._last_event(events_subject(session_id))
        return last[0] if last is not None else 0

    async def replay_events(
        self, session_id: str, from_sequence: int = 1, follow: bool = False
    ) -> AsyncIterator[events_pb2.Event]:
        """Yield the session's events with `sequence >= from_sequence`, in order.

        Without `follow`, stops after the last event stored when the replay started; with
        `follow`, keeps yielding new events until the caller stops iterating or cancels. Uses
        an ordered consumer, which recreates itself from the last delivered position after a
        server restart; events not newer than the last one yielded are dropped, so the output
        has no duplicates. Undecodable messages are logged and skipped.
        """
        subject = events_subject(session_id)
        if from_sequence < 1:
            raise ValueError(f"from_sequence must be >= 1, got {from_sequence}")

        last_stream_seq: int | None = None
        if not follow:
            # Where "caught up" is: the stream sequence of the subject's newest message.
            try:
                last = await self._js.get_last_msg(EVENTS_STREAM, subject)
            except nats.js.errors.NotFoundError:
                return
            last_stream_seq = last.seq or 0

        # Event sequences are per session while the consumer can only start at a stream
        # sequence, so the replay reads the session from its start and skips older events.
        sub = await self._js.subscribe(
            subject,
            stream=EVENTS_STREAM,
            ordered_consumer=True,
            idle_heartbeat=REPLAY_IDLE_HEARTBEAT_SECONDS,
            deliver_policy=api.DeliverPolicy.ALL,
        )
        try:
            last_yielded = from_sequence - 1
            while True:
                try:
                    msg = await sub.next_msg(timeout=None)
                except nats.errors.ConnectionClosedError:
                    raise BusUnavailable(
                        "the event stream closed (this process's NATS connection is closed)"
                    ) from None
                stream_seq = msg.metadata.sequence.stream
                event = _decode_event(msg, session_id)
                if event is not None and event.sequence > last_yielded:
                    if last_yielded >= from_sequence and event.sequence != last_yielded + 1:
                        log.warning(
                            "session %s: event %d follows event %d (gap in the stored history)",
                            session_id,
                            event.sequence,
                            last_yielded,
                        )
                    last_yielded = event.sequence
                    yield event
                if last_stream_seq is not None and stream_seq >= last_stream_seq:
                    return
        finally:
            await _unsubscribe_quietly(sub)

    async def purge_session_events(self, session_id: str) -> None:
        """Drop every stored event of one session (other sessions are untouched)."""
        await self._purge_subject(EVENTS_STREAM, events_subject(session_id))

    async def _purge_subject(self, stream: str, subject: str) -> None:
        """Remove every message of `subject` from `stream`, giving its space back.

        Older servers do not credit a filtered purge to the storage limit (see
        _FILTERED_PURGE_FREES_SPACE_SINCE): there the messages are deleted one by one,
        which does. A full event store then stays full after its sessions are deleted."""
        if self._filtered_purge_frees_space():
            await self._js.purge_stream(stream, subject=subject)
            return
        for sequence in await self._stream_sequences(stream, subject):
            with contextlib.suppress(nats.js.errors.NotFoundError):  # deleted meanwhile
                await self._js.delete_msg(stream, sequence)

    def _filtered_purge_frees_space(self) -> bool:
        version = self._nc.connected_server_version
        found = (version.major, version.minor, version.patch)
        return found >= _FILTERED_PURGE_FREES_SPACE_SINCE

    async def _stream_sequences(self, stream: str, subject: str) -> list[int]:
        """Stream sequences of the messages stored on `subject` (headers only are read)."""
        try:
            last = (await self._js.get_last_msg(stream, subject)).seq or 0
        except nats.js.errors.NotFoundError:
            return []
        sub = await self._js.subscribe(
            subject, stream=stream, ordered_consumer=True, headers_only=True,
            deliver_policy=api.DeliverPolicy.ALL,
        )  # fmt: skip
        sequences = []
        try:
            while True:
                sequence = (await sub.next_msg(timeout=5)).metadata.sequence.stream
                sequences.append(sequence)
                if sequence >= last:
                    return sequences
        finally:
            await _unsubscribe_quietly(sub)

    # -- KV -----------------------------------------------------------------------------------

    async def kv_get(self, bucket: str, key: str) -> tuple[bytes, int] | None:
        """The value and revision of `key`, or None if absent (retried through outages)."""
        kv = await self._kv(bucket)
        return await retry_transient(lambda: kvops.kv_get(kv, key), what=f"read {key} of {bucket}")

    async def kv_create(self, bucket: str, key: str, value: bytes) -> int:
        """Create `key`; raises KeyExists if present. Returns the revision. Not retried: a
        create repeated after its first attempt landed would find its own key."""
        what = f"key {key} of {bucket}"
        with answered(what), refused_for_space(what):
            return await kvops.kv_create(await self._kv(bucket), key, value)

    async def kv_update(self, bucket: str, key: str, value: bytes, expected_revision: int) -> int:
        """Compare-and-set; raises StaleRevision if `key` is not at `expected_revision`
        (also when a retried write finds its own first attempt landed: re-read, re-apply)."""
        kv = await self._kv(bucket)
        return await retry_transient(
            lambda: kvops.kv_update(kv, key, value, expected_revision),
            what=f"key {key} of {bucket}",
        )

    async def kv_delete(self, bucket: str, key: str, expected_revision: int | None = None) -> None:
        """Delete `key` (only at `expected_revision` if given; else StaleRevision)."""
        kv = await self._kv(bucket)
        await retry_transient(
            lambda: kvops.kv_delete(kv, key, expected_revision),
            what=f"the deletion of key {key} of {bucket}",
        )

    async def kv_keys(self, bucket: str) -> list[str]:
        """Every live key of `bucket`, sorted."""
        kv = await self._kv(bucket)
        return await retry_transient(
            lambda: kvops.kv_keys(self._js, kv, bucket), what=f"the keys of {bucket}"
        )

    # -- leases -------------------------------------------------------------------------------

    async def acquire_lease(self, key: str, owner: str, ttl_seconds: float) -> LeaseHandle | None:
        """Take the lease `key` in the leases bucket; None if another owner holds it."""
        with refused_for_space(f"lease {key}"):
            return await kvops.acquire_lease(await self._kv(LEASES_BUCKET), key, owner, ttl_seconds)

    async def renew_lease(
        self, handle: LeaseHandle, ttl_seconds: float | None = None
    ) -> LeaseHandle:
        """Extend a held lease; raises LeaseLost if someone else took it."""
        with refused_for_space(f"lease {handle.key}"):
            return await kvops.renew_lease(await self._kv(LEASES_BUCKET), handle, ttl_seconds)

    async def release_lease(self, handle: LeaseHandle) -> bool:
        """Give a lease up; False if it was no longer ours."""
        with refused_for_space(f"the release of lease {handle.key}"):
            return await kvops.release_lease(await self._kv(LEASES_BUCKET), handle)

    # -- objects ------------------------------------------------------------------------------

    async def put_object(
        self, bucket: str, name: str, data: bytes, content_type: str, sha256: str = ""
    ) -> common_pb2.ObjectRef:
        """Store `data` as object `name` (replacing any previous one); return its reference.
        `sha256`: the data's hex digest, if the caller has it already."""
        store = await self._object_store(bucket)
        # Headers use the Go client's multi-value form so every client can read the metadata.
        meta = api.ObjectMeta(name=name, headers={"Content-Type": [content_type]})
        with refused_for_space(f"object {name}"):
            info = await store.put(name, data, meta=meta)
        return common_pb2.ObjectRef(
            bucket=bucket,
            name=name,
            size=info.size if info.size is not None else len(data),
            sha256=sha256 or hashlib.sha256(data).hexdigest(),
            content_type=content_type,
        )

    async def delete_objects(self, bucket: str, prefix: str) -> int:
        """Delete every object whose name starts with `prefix`; returns how many."""
        store = await self._object_store(bucket)
        try:
            infos = await store.list()
        except nats.js.errors.NotFoundError:  # an empty bucket has nothing to list
            return 0
        doomed = [info for info in infos if info.name and info.name.startswith(prefix)]
        stream = OBJ_STREAM_TEMPLATE.format(bucket=bucket)
        for info in doomed:
            # Chunks first: they hold the space. Then the description, leaving no trace
            # (nats-py's delete would store a deletion marker, which a full store refuses).
            name = base64.urlsafe_b64encode(info.name.encode()).decode()
            if info.nuid:
                chunks = OBJ_CHUNKS_PRE_TEMPLATE.format(bucket=bucket, obj=info.nuid)
                await self._purge_subject(stream, chunks)
            await self._purge_subject(stream, OBJ_META_PRE_TEMPLATE.format(bucket=bucket, obj=name))
        return len(doomed)

    async def get_object(self, bucket: str, name: str) -> bytes:
        """The bytes of object `name` (digest-checked by nats-py); ObjectNotFound if absent."""
        store = await self._object_store(bucket)
        try:
            result = await store.get(name)
        except nats.js.errors.NotFoundError as err:  # ObjectNotFoundError, ObjectDeletedError
            raise ObjectNotFound(f"no object {name!r} in bucket {bucket!r}") from err
        return bytes(result.data or b"")

    # -- request / reply ----------------------------------------------------------------------

    async def request(self, subject: str, data: bytes, timeout: float = 5.0) -> bytes:
        """Send a request and return the reply's payload.

        Raises NoResponders if nobody serves `subject` and TimeoutError if no reply came
        within `timeout` seconds.
        """
        try:
            msg = await self._nc.request(subject, data, timeout=timeout)
        except nats.errors.NoRespondersError as err:
            raise NoResponders(f"nobody serves {subject}") from err
        return msg.data

    async def serve_requests(
        self,
        subject: str,
        handler: Callable[[bytes], Awaitable[bytes]],
        *,
        queue: str = "",
    ) -> Subscription:
        """Answer requests on `subject` with `await handler(payload)`.

        Requests are handled one at a time, in arrival order. If the handler raises, the error
        is logged and no reply is sent (the requester times out), so handlers should encode
        expected failures in their reply. Call `unsubscribe()` on the result to stop taking
        requests; one being handled still gets its reply.
        """

        async def answer(msg: Msg) -> None:
            try:
                reply = await handler(msg.data)
            except Exception:
                log.exception("request handler for %s failed", msg.subject)
                return
            try:
                await msg.respond(reply)
            except nats.errors.Error as err:
                log.warning("could not reply on %s: %s", msg.subject, err)

        async def on_request(msg: Msg) -> None:
            if not msg.reply:
                log.warning("ignoring message without reply subject on %s", msg.subject)
                return
            # nats-py runs this callback in the subscription's task and cancels that task on
            # unsubscribe. A handler may itself lead to the unsubscribe (a cancel ends the
            # session, which stops serving its subject), so it runs in a task of its own and
            # replies even then; the callback only waits for it, keeping arrival order.
            task = asyncio.create_task(answer(msg))
            self._answering.add(task)
            task.add_done_callback(self._answering.discard)
            await asyncio.shield(task)

        return await self._nc.subscribe(subject, queue=queue, cb=on_request)


def _decode_event(msg: Msg, session_id: str) -> events_pb2.Event | None:
    event = events_pb2.Event()
    try:
        event.ParseFromString(msg.data)
    except DecodeError as err:
        log.error(
            "skipping undecodable event on %s (stream seq %s): %s", msg.subject, _seq(msg), err
        )
        return None
    if event.session_id != session_id:
        log.error(
            "skipping event for session %r found on %s (stream seq %s)",
            event.session_id,
            msg.subject,
            _seq(msg),
        )
        return None
    return event


def _seq(msg: Msg) -> int | None:
    try:
        return msg.metadata.sequence.stream
    except (nats.errors.Error, ValueError, IndexError):
        return None


def _is_refusal(err: BaseException) -> bool:
    """Whether the server turned the client away for who it is (not for being down)."""
    if isinstance(err, nats.errors.AuthorizationError):
        return True
    return "authorization violation" in str(err).lower()


def _cancelling() -> bool:
    """Whether the running task itself is being cancelled (not only the connect)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _server_of(nc: Client) -> str:
    parsed = nc.connected_url
    return parsed.netloc if parsed is not None else "?"


async def _unsubscribe_quietly(sub: Subscription) -> None:
    # A closed or draining connection has nothing left to unsubscribe from.
    with contextlib.suppress(nats.errors.Error):
        await sub.unsubscribe()


async def _close_quietly(nc: Client) -> None:
    if nc.is_closed:
        return
    try:
        await nc.close()
    except (nats.errors.Error, OSError) as err:
        log.debug("closing NATS connection: %s", err)
