"""Answering a repeated idempotency key from its first run, so no action ever runs twice.

Both executors use one `ReplayCache` per RPC. The first request with a key starts the
work as a task of its own, shielded from the caller: when the caller goes away (its
orchestrator was killed, its deadline passed) the work still finishes and its outcome is
kept. A repeat of the key waits for that outcome or gets the stored one; it never starts
the work again. When the outcome cannot be known — the work was interrupted, or failed
in a way that may have left it half done, or its result is no longer kept — the repeat
gets an explicit outcome-unknown response, still without running anything.

Memory is bounded: keys by length, stored results by count and by bytes (least recently
used first), and a forgotten result leaves only a small digest behind so a late repeat
still answers outcome-unknown instead of running again. A result still being produced is
never evicted; the number of those is bounded too.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import grpc
from google.protobuf.message import Message

from deskpilot.common.errors import InvalidArgument, ResourceExhausted, ServiceError

ResponseT = TypeVar("ResponseT", bound=Message)

MAX_KEY_BYTES = 256
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
MAX_RUNNING = 1024
# Digests of forgotten keys kept per stored result (each costs about 150 bytes).
FORGOTTEN_PER_RESULT = 16
_MIN_FORGOTTEN = 1024
# What an entry costs beyond its key and result: the objects around them.
_ENTRY_OVERHEAD = 256
_DIGEST_BYTES = 16

# Errors an executor raises only before it has done anything (its checks come first), so
# a repeat may be told the same; any other failure leaves the outcome unknown.
_NOTHING_DONE = frozenset(
    {
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    }
)


def check_key(key: str) -> None:
    """INVALID_ARGUMENT for a key over the length limit."""
    size = len(key.encode())
    if size > MAX_KEY_BYTES:
        raise InvalidArgument(
            f"idempotency_key is {size} bytes long; the limit is {MAX_KEY_BYTES} bytes (UTF-8)",
            field="idempotency_key",
        )


@dataclass
class _Entry:
    """One key: its request's digest and the first run (running, then its outcome)."""

    key: str
    fingerprint: bytes
    work: asyncio.Task[Message] | None  # dropped once settled: it holds the request
    size: int
    settled: bool = False
    result: bytes | None = None  # the serialised response
    error: ServiceError | None = None  # a refusal: the first run did nothing
    unknown: str = ""  # why the outcome cannot be told


class ReplayCache(Generic[ResponseT]):
    """The first outcome per idempotency key, for one RPC's response type.

    `outcome_unknown(reason)` builds the response that says the first run's outcome is
    unknown (the caller's service knows which field carries the reason).
    """

    def __init__(
        self,
        response_type: type[ResponseT],
        outcome_unknown: Callable[[str], ResponseT],
        *,
        max_results: int,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self.response_type = response_type
        self.outcome_unknown = outcome_unknown
        self.max_results = max_results
        self.max_bytes = max_bytes
        self.max_forgotten = max(FORGOTTEN_PER_RESULT * max_results, _MIN_FORGOTTEN)
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._forgotten: OrderedDict[bytes, bytes] = OrderedDict()  # key digest -> fingerprint
        self._running = 0
        self._stored = 0  # entries with their outcome
        self.stored_bytes = 0

    @property
    def stored(self) -> int:
        """Outcomes kept (running first runs not counted)."""
        return self._stored

    @property
    def forgotten(self) -> int:
        """Keys whose outcome is no longer kept but which still never run again."""
        return len(self._forgotten)

    async def run(
        self,
        key: str,
        request: Message,
        produce: Callable[[], Awaitable[ResponseT]],
        *,
        on_replay: Callable[[], None] | None = None,
    ) -> ResponseT:
        """`produce()` at most once per key; repeats get its outcome with `replayed` set."""
        if not key:
            return await produce()  # no key, no replay: a caller who leaves ends the work
        check_key(key)
        fingerprint = _fingerprint(request)
        entry = self._entries.get(key)
        if entry is not None:
            _check_same_request(key, entry.fingerprint, fingerprint)
            self._entries.move_to_end(key)
            return await self._replay(entry, on_replay)
        digest = _digest(key.encode())
        forgotten = self._forgotten.get(digest)
        if forgotten is not None:
            _check_same_request(key, forgotten, fingerprint)
            self._forgotten.move_to_end(digest)
            if on_replay is not None:
                on_replay()
            return self._unknown(
                "its result is no longer kept (the executor keeps the latest "
                f"{self.max_results} results, at most {self.max_bytes} bytes)"
            )
        return await self._first_run(key, fingerprint, produce)

    async def _first_run(
        self, key: str, fingerprint: bytes, produce: Callable[[], Awaitable[ResponseT]]
    ) -> ResponseT:
        if self._running >= MAX_RUNNING:
            raise ResourceExhausted(
                f"{self._running} requests with an idempotency key are running already, the "
                f"most this executor runs at once ({MAX_RUNNING}); retry when one has finished"
            )
        work = asyncio.ensure_future(produce())
        size = _ENTRY_OVERHEAD + len(key.encode()) + len(fingerprint)
        entry = _Entry(key, fingerprint, work, size)  # type: ignore[arg-type]
        self._entries[key] = entry
        self._running += 1
        self.stored_bytes += size
        work.add_done_callback(lambda _: self._settle(entry))
        # Shielded: a caller who goes away cancels its wait, never the work.
        return await asyncio.shield(work)

    def _settle(self, entry: _Entry) -> None:
        """Record the first run's outcome (once), then keep within the bounds."""
        if entry.settled:
            return
        entry.settled = True
        self._running -= 1
        self._stored += 1
        work, entry.work = entry.work, None
        assert work is not None
        if work.cancelled():
            entry.unknown = "it was interrupted before it finished"
        elif (exc := work.exception()) is not None:
            if isinstance(exc, ServiceError) and exc.code in _NOTHING_DONE:
                # A fresh copy: the raised one's traceback holds the request and more.
                entry.error = type(exc)(exc.message)
                self._grow(entry, len(exc.message.encode()))
            else:
                code = exc.code.name if isinstance(exc, ServiceError) else type(exc).__name__
                entry.unknown = f"it failed part way ({code})"
        else:
            entry.result = work.result().SerializeToString()
            self._grow(entry, len(entry.result))
        if self._entries.get(entry.key) is entry:
            self._entries.move_to_end(entry.key)  # the newest outcome is evicted last
        if entry.size > self.max_bytes:
            self._forget(entry.key)
        self._evict()

    async def cancel_running(self) -> None:
        """Interrupt every first run still going (the service is stopping); a repeat of
        their keys would answer outcome-unknown."""
        running = [e.work for e in self._entries.values() if e.work is not None]
        for work in running:
            work.cancel()
        if running:
            await asyncio.wait(running)

    def _grow(self, entry: _Entry, extra: int) -> None:
        entry.size += extra
        self.stored_bytes += extra

    def _evict(self) -> None:
        """Forget the least recently used outcomes beyond the count and byte bounds."""
        if self._stored <= self.max_results and self.stored_bytes <= self.max_bytes:
            return
        for key in [k for k, e in self._entries.items() if e.settled]:
            if self._stored <= self.max_results and self.stored_bytes <= self.max_bytes:
                break
            self._forget(key)

    def _forget(self, key: str) -> None:
        entry = self._entries.pop(key)
        self._stored -= 1
        self.stored_bytes -= entry.size
        self._forgotten[_digest(key.encode())] = entry.fingerprint
        while len(self._forgotten) > self.max_forgotten:
            self._forgotten.popitem(last=False)

    async def _replay(self, entry: _Entry, on_replay: Callable[[], None] | None) -> ResponseT:
        if entry.work is not None:
            # Wait for the first run; leaving this wait (cancelled) leaves the run alone.
            await asyncio.wait([entry.work])
            self._settle(entry)  # a no-op unless this wait woke first
        if entry.error is not None:
            raise type(entry.error)(entry.error.message)  # a fresh one per repeat
        if on_replay is not None:
            on_replay()
        if entry.result is None:
            return self._unknown(entry.unknown)
        replay = self.response_type.FromString(entry.result)
        replay.replayed = True  # type: ignore[attr-defined]
        return replay

    def _unknown(self, why: str) -> ResponseT:
        response = self.outcome_unknown(
            f"the first request with this idempotency key has no known outcome ({why}); it "
            "was not run again, and it may or may not have taken effect"
        )
        response.replayed = True  # type: ignore[attr-defined]
        response.outcome_unknown = True  # type: ignore[attr-defined]
        return response


def _check_same_request(key: str, stored: bytes, fingerprint: bytes) -> None:
    if stored != fingerprint:
        raise InvalidArgument(
            f"idempotency_key {key!r} was already used for a different request; "
            "use a new key for a new request",
            field="idempotency_key",
        )


def _fingerprint(request: Message) -> bytes:
    """A digest of the request without its idempotency key (serialised deterministically)."""
    copy = type(request)()
    copy.CopyFrom(request)
    copy.ClearField("idempotency_key")
    return _digest(copy.SerializeToString(deterministic=True))


def _digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=_DIGEST_BYTES).digest()
