"""What both hub kinds share: one viewer's connection as a hub sees it, and the parsing
loop that turns its client messages into calls on the hub."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable

from websockets.asyncio.connection import Connection

from deskpilot.gateway.desktop import metrics
from deskpilot.gateway.desktop.access import DesktopAccess, Viewer
from deskpilot.gateway.desktop.client_messages import ClientMessage, read_client_message
from deskpilot.gateway.desktop.close_codes import CloseCode, DesktopError
from deskpilot.gateway.desktop.flood import MessageRate
from deskpilot.gateway.desktop.limits import Limits
from deskpilot.gateway.desktop.streams import WebSocketBytes

log = logging.getLogger(__name__)

AccessLookup = Callable[[], Awaitable[DesktopAccess]]
Controls = Callable[[Viewer], bool]


class Member:
    """A viewer inside a hub; `end` closes its websocket without waiting for it."""

    def __init__(self, viewer: Viewer, websocket: Connection) -> None:
        self.viewer = viewer
        self.websocket = websocket
        self.closing = False
        self._close_task: asyncio.Task[None] | None = None

    def end(self, code: CloseCode, reason: str) -> None:
        if self.closing:
            return
        self.closing = True
        metrics.VIEWER_CLOSES.labels(str(int(code))).inc()
        self._close_task = asyncio.create_task(self.websocket.close(int(code), reason))

    async def closed(self) -> None:
        if self._close_task is not None:
            await asyncio.shield(self._close_task)


async def end_all(members: Iterable[Member], code: CloseCode, reason: str) -> None:
    """Close every viewer of a hub with `code` and `reason`, and wait until they are gone."""
    ending = list(members)
    for member in ending:
        member.end(code, reason)
    await asyncio.gather(*(m.closed() for m in ending), return_exceptions=True)


async def lookup_access(access: AccessLookup) -> DesktopAccess:
    """The session's desktop; a lookup that fails is DESKTOP_UNAVAILABLE. A lookup may
    raise DesktopError itself to say why."""
    try:
        return await access()
    except DesktopError:
        raise
    except Exception as exc:  # noqa: BLE001 - any lookup failure means no desktop
        log.warning("desktop access lookup failed: %r", exc)
        raise DesktopError(
            CloseCode.DESKTOP_UNAVAILABLE, f"no desktop for this session ({type(exc).__name__})"
        ) from None


async def read_messages(
    source: WebSocketBytes,
    limits: Limits,
    session_id: str,
    handle: Callable[[ClientMessage], Awaitable[None]],
) -> None:
    """Parse the viewer's messages and hand each to `handle`, under the flood bound;
    returns never (ends by ViewerClosed or ConnectionClosed)."""
    rate = MessageRate(limits.max_messages_per_second, 2 * limits.max_messages_per_second)
    bytes_in = metrics.VIEWER_BYTES_IN.labels(session_id)
    while True:
        message = await read_client_message(source, limits.max_clipboard_bytes)
        rate.take()
        bytes_in.inc(len(message.raw))
        await handle(message)
