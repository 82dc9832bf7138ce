"""Replaying results for repeated idempotency keys, so a retry never runs twice."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import TypeVar

from google.protobuf.message import Message

from deskpilot.common.errors import InvalidArgument, Unavailable

ResponseT = TypeVar("ResponseT", bound=Message)


class ReplayCache:
    """The first result per key (bounded, least recently used dropped first).

    A repeat that arrives while the first request still runs waits for its result. A
    request that fails or is cancelled leaves no entry, so it can be retried.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[str, tuple[bytes, asyncio.Future[Message]]] = OrderedDict()

    async def run(
        self,
        key: str,
        request: Message,
        produce: Callable[[], Awaitable[ResponseT]],
        *,
        on_replay: Callable[[], None] | None = None,
    ) -> ResponseT:
        """`produce()` once per key; repeats get a copy with `replayed` set."""
        if not key:
            return await produce()
        fingerprint = _fingerprint(request)
        entry = self._entries.get(key)
        if entry is not None:
            return await self._replay(key, fingerprint, entry, on_replay)
        first: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._entries[key] = (fingerprint, first)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)
        try:
            result = await produce()
        except BaseException as exc:
            if self._entries.get(key, (b"", None))[1] is first:
                del self._entries[key]
            first.set_exception(exc if isinstance(exc, Exception) else asyncio.CancelledError())
            first.exception()  # retrieved here; waiters re-raise it themselves
            raise
        first.set_result(result)
        return result

    async def _replay(
        self,
        key: str,
        fingerprint: bytes,
        entry: tuple[bytes, asyncio.Future[Message]],
        on_replay: Callable[[], None] | None,
    ) -> ResponseT:
        stored_fingerprint, first = entry
        if stored_fingerprint != fingerprint:
            raise InvalidArgument(
                f"idempotency_key {key!r} was already used for a different request; "
                "use a new key for a new request"
            )
        self._entries.move_to_end(key)
        try:
            stored = await asyncio.shield(first)
        except asyncio.CancelledError:
            if first.cancelled() or isinstance(first.exception(), asyncio.CancelledError):
                raise Unavailable(
                    f"the first request with idempotency_key {key!r} was cancelled; retry it"
                ) from None
            raise
        if on_replay is not None:
            on_replay()
        replay = type(stored)()
        replay.CopyFrom(stored)
        replay.replayed = True  # type: ignore[attr-defined]
        return replay  # type: ignore[return-value]


def _fingerprint(request: Message) -> bytes:
    """The request without its idempotency key, serialised deterministically."""
    copy = type(request)()
    copy.CopyFrom(request)
    copy.ClearField("idempotency_key")
    return copy.SerializeToString(deterministic=True)
