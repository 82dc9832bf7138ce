"""Fan-out: one VNC connection per session, a shadow framebuffer, and every viewer fed
from it with shared bytes (see encoder.py), each in answer to its own requests (see
outbox.py). The proxy keeps one request outstanding upstream at all times: it asks for
the next update as soon as one has been read, whatever the viewers are doing."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from websockets.asyncio.connection import Connection

from deskpilot.gateway.desktop import client_messages as msg
from deskpilot.gateway.desktop import encodings as enc
from deskpilot.gateway.desktop import metrics
from deskpilot.gateway.desktop.access import Viewer
from deskpilot.gateway.desktop.close_codes import CloseCode, DesktopError
from deskpilot.gateway.desktop.desktop_updates import Bell, CutText, Update, read_desktop_message
from deskpilot.gateway.desktop.encoder import Caps, EncodedUpdate, Keyframe, desktop_size_rects
from deskpilot.gateway.desktop.framebuffer import Framebuffer
from deskpilot.gateway.desktop.input_state import HeldInput
from deskpilot.gateway.desktop.limits import Limits
from deskpilot.gateway.desktop.members import (
    AccessLookup,
    Controls,
    Member,
    end_all,
    lookup_access,
    read_messages,
)
from deskpilot.gateway.desktop.outbox import Outbox
from deskpilot.gateway.desktop.pixels import VIEWER_FORMAT, check_viewer_format
from deskpilot.gateway.desktop.streams import WebSocketBytes
from deskpilot.gateway.desktop.upstream import Upstream, connect_upstream
from deskpilot.gateway.desktop.viewer_handshake import server_init

log = logging.getLogger(__name__)


class FanoutMember(Member):
    def __init__(
        self,
        viewer: Viewer,
        websocket: Connection,
        max_queue_bytes: int,
        keyframe: Callable[[], Keyframe],
    ) -> None:
        super().__init__(viewer, websocket)
        self.caps = Caps()  # Raw only until the viewer's SetEncodings says more
        self.started = False  # nothing queued before its first FramebufferUpdateRequest
        self.outbox = Outbox(max_queue_bytes, lambda: self.caps, keyframe)


class FanoutHub:
    def __init__(
        self, session_id: str, access: AccessLookup, limits: Limits, controls: Controls
    ) -> None:
        self.session_id = session_id
        self._access = access
        self._limits = limits
        self._controls = controls
        self._members: set[FanoutMember] = set()
        self._up: Upstream | None = None
        self._framebuffer = Framebuffer(0, 0)
        self._input: HeldInput | None = None
        self._cursor: list[bytes] = []
        self._keyframe: Keyframe | None = None
        self._reader: asyncio.Task[None] | None = None
        self.error: DesktopError | None = None
        self._bytes_in = metrics.DESKTOP_BYTES_IN.labels(session_id)
        self._bytes_out = metrics.VIEWER_BYTES_OUT.labels(session_id)

    # --- the desktop side ------------------------------------------------------------

    async def start(self) -> None:
        """Connect, and return once the first whole screen is in the shadow framebuffer."""
        access = await lookup_access(self._access)
        up = await connect_upstream(access, self._limits.handshake_timeout)
        self._up = up
        self._input = HeldInput(up.send)
        self._framebuffer = Framebuffer(up.init.width, up.init.height)
        try:
            async with asyncio.timeout(self._limits.handshake_timeout):
                await up.send(msg.set_pixel_format(VIEWER_FORMAT))
                await up.send(msg.set_encodings(enc.FANOUT_UPSTREAM))
                await up.send(msg.update_request(False, up.init.width, up.init.height))
                while not isinstance(await self._next_message(), Update):
                    pass
        except TimeoutError:
            up.close()
            raise DesktopError(
                CloseCode.DESKTOP_HANDSHAKE_TIMEOUT,
                f"desktop sent no screen within {self._limits.handshake_timeout:g} s",
            ) from None
        except BaseException:
            up.close()
            raise
        await self._request_more()
        self._reader = asyncio.create_task(self._read_desktop(), name=f"desktop-{self.session_id}")

    async def _next_message(self) -> object:
        assert self._up is not None
        before = self._up.reader_bytes
        message = await read_desktop_message(
            self._up, self._framebuffer, self._limits.max_clipboard_bytes
        )
        self._bytes_in.inc(self._up.reader_bytes - before)
        if isinstance(message, Update):
            self._on_update(message)
        elif isinstance(message, Bell):
            self._push_all(b"\x02")  # dropped for a viewer that has not taken the last
        elif isinstance(message, CutText):
            self._push_all(message.raw, only_controller=True)
        return message

    async def _request_more(self) -> None:
        assert self._up is not None
        fb = self._framebuffer
        await self._up.send(msg.update_request(True, fb.width, fb.height))

    async def _read_desktop(self) -> None:
        try:
            while True:
                if isinstance(await self._next_message(), Update):
                    await self._request_more()
        except DesktopError as exc:
            self._fail(exc)
        except Exception:
            log.exception("desktop proxy of session %s failed", self.session_id)
            self._fail(DesktopError(CloseCode.INTERNAL, "desktop proxy failed"))

    def _fail(self, error: DesktopError) -> None:
        self.error = error
        for member in list(self._members):
            member.end(error.code, error.reason)
        if self._up is not None:
            self._up.close()

    # --- broadcasting ----------------------------------------------------------------

    def _on_update(self, update: Update) -> None:
        metrics.FRAMES.labels(self.session_id).inc()
        self._keyframe = None  # the screen changed
        for rect in update.rects:
            if rect.encoding == enc.CURSOR:
                self._cursor = [rect.header(), rect.data]
        if update.resized:
            self._on_resize()
            return
        encoded = EncodedUpdate(update.rects, self._framebuffer.pixels)
        deepest = 0
        for member in list(self._members):
            if not member.started or member.closing:
                continue
            stalled = member.outbox.stalled_for()
            if stalled > self._limits.stall_seconds:
                member.end(CloseCode.TOO_SLOW, f"viewer read nothing for {stalled:.0f} s")
                continue
            if member.outbox.keyframe_due:
                continue  # its keyframe, taken when it asks, will show this too
            rects = encoded.rects(member.caps)
            if rects.count and not member.outbox.push_update(rects):
                member.outbox.restart()
                metrics.KEYFRAMES.labels(self.session_id, "resync").inc()
            deepest = max(deepest, member.outbox.queued_bytes)
        metrics.QUEUE_BYTES.labels(self.session_id).set(deepest)

    def _on_resize(self) -> None:
        fb = self._framebuffer
        for member in list(self._members):
            if not member.caps.resize:
                member.end(CloseCode.DESKTOP_RESIZED, "desktop changed size; reconnect")
                continue
            member.outbox.restart(desktop_size_rects(fb.width, fb.height))
            metrics.KEYFRAMES.labels(self.session_id, "resize").inc()

    def _current_keyframe(self) -> Keyframe:
        if self._keyframe is None:
            self._keyframe = Keyframe(self._framebuffer.pixels, self._cursor)
        return self._keyframe

    def _push_all(self, data: bytes, only_controller: bool = False) -> None:
        for member in self._members:
            wanted = not only_controller or self._controls(member.viewer)
            if member.started and not member.closing and wanted:
                member.outbox.push_message(data)

    # --- the viewer side -------------------------------------------------------------

    async def serve(self, websocket: Connection, viewer: Viewer, source: WebSocketBytes) -> None:
        if self.error is not None:
            raise self.error
        fb = self._framebuffer
        assert self._up is not None
        await websocket.send(server_init(fb.width, fb.height, self._up.init.name))
        member = FanoutMember(
            viewer, websocket, self._limits.max_viewer_queue_bytes, self._current_keyframe
        )
        self._members.add(member)
        metrics.VIEWERS.labels(self.session_id).inc()
        sender = asyncio.create_task(member.outbox.run(websocket, self._bytes_out.inc))
        try:
            await read_messages(
                source, self._limits, self.session_id, lambda m: self._handle(member, m)
            )
        finally:
            self._members.discard(member)
            metrics.VIEWERS.labels(self.session_id).dec()
            sender.cancel()
            with contextlib.suppress(BaseException):
                await sender
            if self._controls(viewer) and self.error is None:
                with contextlib.suppress(DesktopError):
                    await self.release_input()  # the controller left: nothing stays held

    async def _handle(self, member: FanoutMember, message: msg.ClientMessage) -> None:
        if isinstance(message, msg.SetPixelFormat):
            check_viewer_format(message.pixel_format)
        elif isinstance(message, msg.SetEncodings):
            member.caps = Caps.from_encodings(message.encodings)
        elif isinstance(message, msg.FramebufferUpdateRequest):
            # The region asked for is not followed: noVNC (and TigerVNC's viewer) always
            # ask for the whole screen; one shared screen is what every viewer shows.
            if not member.started or not message.incremental:
                reason = "request" if member.started else "join"
                member.started = True
                member.outbox.restart()
                metrics.KEYFRAMES.labels(self.session_id, reason).inc()
            member.outbox.request()
        elif isinstance(message, msg.INPUT_MESSAGES):
            if not self._controls(member.viewer):
                metrics.INPUT_DROPPED.labels(self.session_id).inc()
                return
            await self._forward_input(message)
        # ContinuousUpdates and Fence are never offered (no EndOfContinuousUpdates, no
        # server Fence), so a client sending them breaks the protocol; like QEMU audio,
        # they are dropped.

    async def _forward_input(self, message: msg.ClientMessage) -> None:
        assert self._input is not None and self._up is not None
        if isinstance(message, msg.KeyEvent):
            await self._input.key(message.down, message.key, message.raw)
        elif isinstance(message, msg.QemuKeyEvent):
            # The desktop was never offered QEMU keys: send the keysym as a plain key.
            raw = msg.key_event(message.down, message.keysym)
            await self._input.key(message.down, message.keysym, raw)
        elif isinstance(message, msg.PointerEvent):
            await self._input.pointer(message.mask, message.x, message.y, message.raw)
        elif isinstance(message, msg.ClientCutText):
            await self._up.send(message.raw)
        # SetDesktopSize and xvp would act on the desktop every viewer shares (resize,
        # reboot): not offered, dropped.

    async def release_input(self) -> None:
        if self._input is not None and self.error is None:
            await self._input.release_all()

    @property
    def viewers(self) -> int:
        return len(self._members)

    async def close(self, code: CloseCode, reason: str) -> None:
        await end_all(self._members, code, reason)
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(BaseException):
                await self._reader
        if self._up is not None:
            self._up.close()
