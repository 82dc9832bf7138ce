"""Pass-through: one VNC connection per viewer, the desktop's bytes relayed as they come,
the viewer's messages filtered exactly as in fan-out. The test oracle for fan-out, and
a fallback when one upstream per viewer is affordable."""

from __future__ import annotations

import asyncio
import contextlib

from websockets.asyncio.connection import Connection

from deskpilot.gateway.desktop import client_messages as msg
from deskpilot.gateway.desktop import encodings as enc
from deskpilot.gateway.desktop import metrics
from deskpilot.gateway.desktop.access import Viewer
from deskpilot.gateway.desktop.close_codes import CloseCode, DesktopError
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
from deskpilot.gateway.desktop.pixels import VIEWER_FORMAT, check_viewer_format
from deskpilot.gateway.desktop.streams import WebSocketBytes
from deskpilot.gateway.desktop.upstream import Upstream, connect_upstream
from deskpilot.gateway.desktop.viewer_handshake import server_init


class PassthroughMember(Member):
    def __init__(self, viewer: Viewer, websocket: Connection, up: Upstream) -> None:
        super().__init__(viewer, websocket)
        self.up = up
        self.input = HeldInput(up.send)


class PassthroughHub:
    def __init__(
        self, session_id: str, access: AccessLookup, limits: Limits, controls: Controls
    ) -> None:
        self.session_id = session_id
        self._access = access
        self._limits = limits
        self._controls = controls
        self._members: set[PassthroughMember] = set()
        self.error: DesktopError | None = None  # never set: each viewer fails alone

    async def start(self) -> None:
        """Nothing to share: every viewer connects on its own."""

    async def serve(self, websocket: Connection, viewer: Viewer, source: WebSocketBytes) -> None:
        access = await lookup_access(self._access)
        up = await connect_upstream(access, self._limits.handshake_timeout)
        member = PassthroughMember(viewer, websocket, up)
        self._members.add(member)
        metrics.VIEWERS.labels(self.session_id).inc()
        relay: asyncio.Task[None] | None = None
        try:
            await up.send(msg.set_pixel_format(VIEWER_FORMAT))
            await websocket.send(server_init(up.init.width, up.init.height, up.init.name))
            relay = asyncio.create_task(self._relay(member))
            reader = asyncio.create_task(
                read_messages(
                    source, self._limits, self.session_id, lambda m: self._handle(member, m)
                )
            )
            done, _ = await asyncio.wait({relay, reader}, return_when=asyncio.FIRST_COMPLETED)
            reader.cancel()
            with contextlib.suppress(BaseException):
                await reader
            for task in done:
                task.result()  # re-raise what ended this viewer
        finally:
            self._members.discard(member)
            metrics.VIEWERS.labels(self.session_id).dec()
            if relay is not None:
                relay.cancel()
                with contextlib.suppress(BaseException):
                    await relay
            with contextlib.suppress(DesktopError):
                await member.input.release_all()
            up.close()

    async def _relay(self, member: PassthroughMember) -> None:
        bytes_in = metrics.DESKTOP_BYTES_IN.labels(self.session_id)
        bytes_out = metrics.VIEWER_BYTES_OUT.labels(self.session_id)
        while True:
            data = await member.up.read_some()
            bytes_in.inc(len(data))
            await member.websocket.send(data)
            bytes_out.inc(len(data))

    async def _handle(self, member: PassthroughMember, message: msg.ClientMessage) -> None:
        up = member.up
        if isinstance(message, msg.SetPixelFormat):
            check_viewer_format(message.pixel_format)  # already set upstream, byte-identical
        elif isinstance(message, msg.SetEncodings):
            await up.send(msg.set_encodings(enc.followable(message.encodings)))
        elif isinstance(
            message, msg.FramebufferUpdateRequest | msg.EnableContinuousUpdates | msg.Fence
        ):
            await up.send(message.raw)
        elif isinstance(message, msg.INPUT_MESSAGES):
            if not self._controls(member.viewer):
                metrics.INPUT_DROPPED.labels(self.session_id).inc()
            elif isinstance(message, msg.KeyEvent):
                await member.input.key(message.down, message.key, message.raw)
            elif isinstance(message, msg.QemuKeyEvent):
                await member.input.key(message.down, message.keysym, message.raw)
            elif isinstance(message, msg.PointerEvent):
                await member.input.pointer(message.mask, message.x, message.y, message.raw)
            else:
                await up.send(message.raw)
        # QEMU audio: stripped from SetEncodings, so never asked for; dropped.

    async def release_input(self) -> None:
        for member in list(self._members):
            with contextlib.suppress(DesktopError):
                await member.input.release_all()

    @property
    def viewers(self) -> int:
        return len(self._members)

    async def close(self, code: CloseCode, reason: str) -> None:
        await end_all(self._members, code, reason)
