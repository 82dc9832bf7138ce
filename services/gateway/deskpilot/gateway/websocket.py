"""What every websocket route shares: serving until either side is done, and closing
with a code and reason that say why (4000 + the HTTP status of a refusal)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from deskpilot.gateway.http import Refusal

log = logging.getLogger("deskpilot.gateway.websocket")

INTERNAL_ERROR = 1011
# Close reasons must fit a control frame (125 bytes, 2 of them the code).
_MAX_REASON_BYTES = 123


async def close_with(connection: ServerConnection, code: int, reason: str) -> None:
    """Close with `code` and `reason` cut to what a close frame carries."""
    data = reason.encode()[:_MAX_REASON_BYTES]
    with contextlib.suppress(ConnectionClosed):
        await connection.close(code, data.decode(errors="ignore"))


async def until_either_ends(
    connection: ServerConnection, work: Callable[[], Awaitable[None]]
) -> None:
    """Run `work` until it returns or the browser goes away (whichever is first), then
    close: normally when it returned, with 4000 + status on a Refusal, 1011 on a bug."""
    task = asyncio.create_task(work())
    closed = asyncio.create_task(connection.wait_closed())
    try:
        await asyncio.wait({task, closed}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        closed.cancel()
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    if task.cancelled():
        return
    error = task.exception()
    if error is None:
        await close_with(connection, 1000, "done")
    elif isinstance(error, Refusal):
        await close_with(connection, error.close_code, error.reason)
    elif not isinstance(error, ConnectionClosed):
        path = connection.request.path if connection.request else "?"
        log.error("websocket %s failed", path, exc_info=error)
        await close_with(connection, INTERNAL_ERROR, "internal error in the gateway")


async def send_json(connection: ServerConnection, value: Any) -> None:
    await connection.send(json.dumps(value, separators=(",", ":"), ensure_ascii=False))
