"""The one retry layer: riding out a NATS outage, and waiting for space in a full store."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

from deskpilot.bus.errors import TRANSIENT_ERRORS, BusUnavailable, EventStoreFull, refused_for_space
from deskpilot.common.cancellation import raise_if_cancelled

log = logging.getLogger(__name__)
T = TypeVar("T")

# Longest pause between attempts of a write waiting for space (`until_stored`).
STORE_FULL_RETRY_SECONDS = 2.0


async def retry_transient(
    operation: Callable[[], Awaitable[T]], *, what: str, deadline: float = 30.0
) -> T:
    """Run `operation`, retrying with backoff while NATS is briefly away, for at most
    `deadline` seconds; then BusUnavailable. Only for operations that are safe to repeat
    (reads, and compare-and-set writes whose caller re-reads on a stale revision)."""
    give_up_at = time.monotonic() + deadline
    backoff = 0.05
    while True:
        try:
            with refused_for_space(what):  # no space is no outage: retrying cannot help
                return await operation()
        except TRANSIENT_ERRORS as err:
            remaining = give_up_at - time.monotonic()
            if remaining <= 0:
                raise BusUnavailable(
                    f"NATS is unreachable: {what} got no answer within {deadline:g}s"
                ) from err
            log.debug("%s failed (%r); retrying", what, err)
            raise_if_cancelled()
            await asyncio.sleep(min(backoff, remaining))
            backoff = min(backoff * 2, 1.0)


async def until_stored(
    operation: Callable[[], Awaitable[T]],
    *,
    waiting: Callable[[EventStoreFull | None], None] | None = None,
) -> T:
    """Run the write `operation`, waiting while the event store is full and trying again
    every few seconds until it has space. `waiting(err)` is told when the wait starts and
    `waiting(None)` when it ends. For writes that may be repeated (events carry their
    message id, records are compare-and-set)."""
    backoff = 0.1
    stalled = False
    try:
        while True:
            try:
                return await operation()
            except EventStoreFull as err:
                if not stalled:
                    log.warning("%s; waiting for space", err)
                    stalled = True
                    if waiting is not None:
                        waiting(err)
            raise_if_cancelled()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, STORE_FULL_RETRY_SECONDS)
    finally:
        if stalled:
            log.info("the event store has space again")
            if waiting is not None:
                waiting(None)


@contextlib.contextmanager
def answered(what: str) -> Iterator[None]:
    """Turn NATS not answering the one attempt at `what` into BusUnavailable (UNAVAILABLE
    for an API caller, never INTERNAL): for writes that are not simply repeated, such as a
    create whose lost acknowledgement a retry would report as "exists" (`retry_transient`
    is for the others)."""
    try:
        yield
    except TRANSIENT_ERRORS as err:
        detail = str(err) or type(err).__name__
        raise BusUnavailable(f"NATS is unreachable: {what} got no answer ({detail})") from err
