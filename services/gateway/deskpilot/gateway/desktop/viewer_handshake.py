"""The proxy's side of RFB towards a viewer: version 3.8 and security type None (the
token already decided who may connect), then ServerInit in the viewer pixel format."""

from __future__ import annotations

import struct

from websockets.asyncio.connection import Connection

from deskpilot.gateway.desktop import pixels
from deskpilot.gateway.desktop.close_codes import CloseCode, ViewerClosed
from deskpilot.gateway.desktop.streams import WebSocketBytes

VERSION = b"RFB 003.008\n"
SECURITY_NONE = 1


async def greet_viewer(websocket: Connection, source: WebSocketBytes) -> None:
    """Run the handshake up to and including the viewer's ClientInit (its shared flag is
    ignored: every viewer shares)."""
    await websocket.send(VERSION)
    version = await source.readexactly(12)
    if version != VERSION:
        shown = version.decode("ascii", errors="replace").strip()
        raise ViewerClosed(CloseCode.RFB_VERSION, f"RFB version {shown!r} not supported: use 3.8")
    await websocket.send(bytes([1, SECURITY_NONE]))
    (chosen,) = await source.readexactly(1)
    if chosen != SECURITY_NONE:
        raise ViewerClosed(
            CloseCode.RFB_SECURITY, f"security type {chosen} not offered: use 1 (None)"
        )
    await websocket.send(struct.pack(">I", 0))  # SecurityResult: OK
    await source.readexactly(1)  # ClientInit


def server_init(width: int, height: int, name: bytes) -> bytes:
    return (
        struct.pack(">HH", width, height)
        + pixels.VIEWER_FORMAT.pack()
        + struct.pack(">I", len(name))
        + name
    )
