"""DesktopHubs: the one object the gateway's server calls. It keeps one hub per session
(created by the session's first viewer, closed a little after its last), who holds each
session's control lease, and the graceful drain."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Literal

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from deskpilot.gateway.desktop import metrics
from deskpilot.gateway.desktop.access import DesktopAccess, Viewer
from deskpilot.gateway.desktop.close_codes import (
    CloseCode,
    DesktopError,
    ViewerClosed,
    close_reason,
)
from deskpilot.gateway.desktop.fanout import FanoutHub
from deskpilot.gateway.desktop.limits import Limits
from deskpilot.gateway.desktop.passthrough import PassthroughHub
from deskpilot.gateway.desktop.streams import WebSocketBytes
from deskpilot.gateway.desktop.viewer_handshake import greet_viewer

log = logging.getLogger(__name__)

Mode = Literal["fanout", "passthrough"]
Hub = FanoutHub | PassthroughHub


class _Entry:
    """A session's hub, how many viewers use it, and its start (shared by all of them)."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.users = 0
        self.started: asyncio.Task[None] = asyncio.create_task(hub.start())
        self.linger: asyncio.Task[None] | None = None


class DesktopHubs:
    def __init__(
        self,
        access: Callable[[str], Awaitable[DesktopAccess]],
        *,
        mode: Mode = "fanout",
        max_viewer_queue_bytes: int = Limits.max_viewer_queue_bytes,
        handshake_timeout: float = Limits.handshake_timeout,
        stall_seconds: float = Limits.stall_seconds,
        max_messages_per_second: float = Limits.max_messages_per_second,
        max_clipboard_bytes: int = Limits.max_clipboard_bytes,
        linger_seconds: float = Limits.linger_seconds,
    ) -> None:
        if mode not in ("fanout", "passthrough"):
            raise ValueError(f"unknown desktop proxy mode {mode!r}")
        self.mode = mode
        self._access = access
        self.limits = Limits(
            max_viewer_queue_bytes=max_viewer_queue_bytes,
            handshake_timeout=handshake_timeout,
            stall_seconds=stall_seconds,
            max_messages_per_second=max_messages_per_second,
            max_clipboard_bytes=max_clipboard_bytes,
            linger_seconds=linger_seconds,
        )
        self._entries: dict[str, _Entry] = {}
        self._controllers: dict[str, str | None] = {}
        self._viewers: set[ServerConnection] = set()
        self._closing: str | None = None

    # --- the interface ---------------------------------------------------------------

    async def serve_viewer(
        self, session_id: str, websocket: ServerConnection, viewer: Viewer
    ) -> None:
        """Run one viewer of `session_id` until it leaves or is closed (never raises for
        anything the viewer or the desktop does: those end in a close code)."""
        if self._closing is not None:
            await websocket.close(int(CloseCode.GOING_AWAY), close_reason(self._closing))
            return
        self._viewers.add(websocket)
        entry: _Entry | None = None
        try:
            source = WebSocketBytes(websocket)
            await self._greet(websocket, source)
            entry = await self._join(session_id)
            await entry.hub.serve(websocket, viewer, source)
        except ViewerClosed as closed:
            metrics.VIEWER_CLOSES.labels(str(int(closed.code))).inc()
            await websocket.close(int(closed.code), closed.reason)
        except ConnectionClosed:
            pass
        except Exception:
            log.exception("viewer of session %s failed", session_id)
            await websocket.close(int(CloseCode.INTERNAL), "desktop proxy failed")
        finally:
            self._viewers.discard(websocket)
            if entry is not None:
                self._leave(session_id, entry)

    async def set_controller(self, session_id: str, name: str | None) -> None:
        """Who holds the control lease (None: the agent). On every change, whatever the
        previous holder still holds down on the desktop is released."""
        if self._controllers.get(session_id) == name:
            return
        if name is None:
            self._controllers.pop(session_id, None)
        else:
            self._controllers[session_id] = name
        metrics.LEASE_CHANGES.labels(session_id).inc()
        entry = self._entries.get(session_id)
        if entry is not None and entry.started.done() and not _failed(entry.started):
            with contextlib.suppress(DesktopError):
                await entry.hub.release_input()

    async def close(self, reason: str) -> None:
        """Graceful drain: every viewer gets close 1001 with `reason`; hubs close."""
        self._closing = reason
        reason = close_reason(reason)
        await asyncio.gather(
            *(ws.close(int(CloseCode.GOING_AWAY), reason) for ws in list(self._viewers)),
            return_exceptions=True,
        )
        entries, self._entries = list(self._entries.items()), {}
        for session_id, entry in entries:
            await self._close_entry(session_id, entry)

    def viewers(self, session_id: str) -> int:
        """Viewers connected to the session now."""
        entry = self._entries.get(session_id)
        return entry.hub.viewers if entry is not None else 0

    # --- internals -------------------------------------------------------------------

    async def _greet(self, websocket: ServerConnection, source: WebSocketBytes) -> None:
        try:
            async with asyncio.timeout(self.limits.handshake_timeout):
                await greet_viewer(websocket, source)
        except TimeoutError:
            metrics.HANDSHAKE_FAILURES.labels("viewer", str(int(CloseCode.HANDSHAKE_TIMEOUT))).inc()
            raise ViewerClosed(
                CloseCode.HANDSHAKE_TIMEOUT,
                f"RFB handshake not finished within {self.limits.handshake_timeout:g} s",
            ) from None
        except ViewerClosed as closed:
            metrics.HANDSHAKE_FAILURES.labels("viewer", str(int(closed.code))).inc()
            raise

    def _controls(self, session_id: str) -> Callable[[Viewer], bool]:
        def controls(viewer: Viewer) -> bool:
            return viewer.may_control and viewer.name == self._controllers.get(session_id)

        return controls

    async def _join(self, session_id: str) -> _Entry:
        entry = self._entries.get(session_id)
        if entry is None or entry.hub.error is not None:
            hub_type = FanoutHub if self.mode == "fanout" else PassthroughHub
            hub = hub_type(
                session_id,
                lambda: self._access(session_id),
                self.limits,
                self._controls(session_id),
            )
            entry = self._entries[session_id] = _Entry(hub)
        entry.users += 1
        if entry.linger is not None:
            entry.linger.cancel()
            entry.linger = None
        try:
            await asyncio.shield(entry.started)
        except DesktopError as error:
            metrics.HANDSHAKE_FAILURES.labels("desktop", str(int(error.code))).inc()
            self._leave(session_id, entry)
            raise
        except BaseException:
            self._leave(session_id, entry)
            raise
        return entry

    def _leave(self, session_id: str, entry: _Entry) -> None:
        entry.users -= 1
        if entry.users > 0 or self._entries.get(session_id) is not entry:
            return
        if _failed(entry.started):
            del self._entries[session_id]  # a failed start: the next viewer tries afresh
            metrics.forget_session(session_id)
            return
        entry.linger = asyncio.create_task(self._linger(session_id, entry))

    async def _linger(self, session_id: str, entry: _Entry) -> None:
        await asyncio.sleep(self.limits.linger_seconds)
        if entry.users == 0 and self._entries.get(session_id) is entry:
            del self._entries[session_id]
            await self._close_entry(session_id, entry)

    async def _close_entry(self, session_id: str, entry: _Entry) -> None:
        if entry.linger is not None and entry.linger is not asyncio.current_task():
            entry.linger.cancel()
        entry.started.cancel()
        with contextlib.suppress(BaseException):
            await entry.started
        await entry.hub.close(CloseCode.GOING_AWAY, close_reason(self._closing or "session closed"))
        metrics.forget_session(session_id)


def _failed(task: asyncio.Task[None]) -> bool:
    return task.done() and (task.cancelled() or task.exception() is not None)
