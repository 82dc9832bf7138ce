"""The proxy's side of RFB towards a VNC server: TCP, version, VncAuth, ClientInit with
the shared flag forced on, ServerInit; all within one timeout. Failures are DesktopError
with a precise code; the reason never names the sandbox's address."""

from __future__ import annotations

import asyncio
import os
import socket
import struct
from dataclasses import dataclass

from deskpilot.gateway.desktop import pixels
from deskpilot.gateway.desktop.access import DesktopAccess
from deskpilot.gateway.desktop.close_codes import CloseCode, DesktopError
from deskpilot.gateway.desktop.pixels import PixelFormat
from deskpilot.gateway.desktop.vncauth import CHALLENGE_BYTES, vnc_auth_response

SECURITY_NONE = 1
SECURITY_VNC_AUTH = 2
MAX_NAME_BYTES = 4096
MAX_REASON_BYTES = 4096
_VERSIONS = {b"RFB 003.003\n": 3, b"RFB 003.007\n": 7, b"RFB 003.008\n": 8}
# Apple and others announce odd minor versions; RFC 6143 says treat them as 3.3.
_READ_CHUNK = 64 * 1024
# The stream's buffer: whole screens arrive as one Raw rectangle of megabytes; a small
# buffer pauses and resumes reading the socket many times per update.
_STREAM_LIMIT = 1024 * 1024


@dataclass(frozen=True)
class ServerInit:
    width: int
    height: int
    pixel_format: PixelFormat
    name: bytes


class Upstream:
    """A connected, initialised VNC connection. `send` writes whole messages in order."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, init: ServerInit
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.init = init
        self.reader_bytes = 0  # read so far (for the bytes-in metric)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        try:
            await self.writer.drain()
        except (ConnectionError, OSError) as exc:
            raise DesktopError(CloseCode.DESKTOP_LOST, f"desktop connection lost ({exc})") from None

    async def readexactly(self, n: int) -> bytes:
        try:
            data = await self.reader.readexactly(n)
            self.reader_bytes += n
            return data
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            raise DesktopError(CloseCode.DESKTOP_LOST, "desktop connection lost") from None

    async def read_some(self) -> bytes:
        """Whatever has arrived (at most 64 KiB); raises DesktopError at EOF."""
        try:
            data = await self.reader.read(_READ_CHUNK)
        except (ConnectionError, OSError):
            data = b""
        if not data:
            raise DesktopError(CloseCode.DESKTOP_LOST, "desktop connection lost")
        self.reader_bytes += len(data)
        return data

    def close(self) -> None:
        self.writer.close()


async def connect_upstream(access: DesktopAccess, timeout: float) -> Upstream:
    """Connect and run the handshake; DesktopError (4010-4014) when it fails."""
    try:
        host, port = access.host_port()
    except ValueError as exc:
        raise DesktopError(CloseCode.DESKTOP_UNAVAILABLE, str(exc)) from None
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(timeout):
            try:
                reader, writer = await asyncio.open_connection(host, port, limit=_STREAM_LIMIT)
            except OSError as exc:
                # From the errno alone: asyncio's own text names the sandbox's address.
                reason = os.strerror(exc.errno) if exc.errno else "cannot connect"
                raise DesktopError(
                    CloseCode.DESKTOP_UNAVAILABLE, f"desktop unreachable ({reason.lower()})"
                ) from None
            # Input events are a few bytes each and must not wait for an ACK (Nagle);
            # asyncio sets this already, said here so it never depends on that.
            sock = writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            upstream = Upstream(reader, writer, ServerInit(0, 0, pixels.VIEWER_FORMAT, b""))
            upstream.init = await _handshake(upstream, access.password)
            return upstream
    except TimeoutError:
        if writer is not None:
            writer.close()
        raise DesktopError(
            CloseCode.DESKTOP_HANDSHAKE_TIMEOUT,
            f"desktop did not finish the RFB handshake within {timeout:g} s",
        ) from None
    except BaseException:
        if writer is not None:
            writer.close()
        raise


def _protocol(what: str) -> DesktopError:
    return DesktopError(CloseCode.DESKTOP_PROTOCOL, f"desktop handshake: {what}")


async def _handshake(up: Upstream, password: str) -> ServerInit:
    banner = await up.readexactly(12)
    if not banner.startswith(b"RFB "):
        raise _protocol("not an RFB server")
    minor = _VERSIONS.get(banner, 3)
    if banner > b"RFB 003.008\n":
        minor = 8
    await up.send(b"RFB 003.%03d\n" % minor)
    if minor == 3:
        (chosen,) = struct.unpack(">I", await up.readexactly(4))
        if chosen == 0:
            raise DesktopError(CloseCode.DESKTOP_UNAVAILABLE, await _reason(up, "refused"))
    else:
        (count,) = await up.readexactly(1)
        if count == 0:
            raise DesktopError(CloseCode.DESKTOP_UNAVAILABLE, await _reason(up, "refused"))
        offered = await up.readexactly(count)
        chosen = SECURITY_NONE if SECURITY_NONE in offered else SECURITY_VNC_AUTH
        if chosen not in offered:
            raise _protocol(f"offers neither None nor VncAuth (types {list(offered)})")
        await up.send(bytes([chosen]))
    if chosen == SECURITY_VNC_AUTH:
        challenge = await up.readexactly(CHALLENGE_BYTES)
        await up.send(vnc_auth_response(password, challenge))
    elif chosen != SECURITY_NONE:
        raise _protocol(f"security type {chosen}")
    if chosen == SECURITY_VNC_AUTH or minor == 8:
        (result,) = struct.unpack(">I", await up.readexactly(4))
        if result != 0:
            detail = await _reason(up, "password refused") if minor == 8 else "password refused"
            raise DesktopError(
                CloseCode.DESKTOP_AUTH_FAILED, f"desktop authentication failed: {detail}"
            )
    await up.send(b"\x01")  # ClientInit: shared, always (other viewers stay connected)
    head = await up.readexactly(24)
    width, height = struct.unpack(">HH", head[:4])
    pixel_format = PixelFormat.unpack(head[4:20])
    (name_length,) = struct.unpack(">I", head[20:])
    if name_length > MAX_NAME_BYTES:
        raise _protocol(f"desktop name of {name_length} bytes")
    name = await up.readexactly(name_length)
    return ServerInit(width, height, pixel_format, name)


async def _reason(up: Upstream, fallback: str) -> str:
    (length,) = struct.unpack(">I", await up.readexactly(4))
    if length > MAX_REASON_BYTES:
        return fallback
    return (await up.readexactly(length)).decode(errors="replace") or fallback
