"""Bad input to the desktop proxy, from a viewer or from the desktop's side: each ends that
one viewer with a precise close code and reason, and a viewer of the same session (or of
another one) carries on."""

from __future__ import annotations

import asyncio
import resource
import struct
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager, asynccontextmanager
from dataclasses import dataclass

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from deskpilot.common.net import free_port
from deskpilot.gateway.desktop import CloseCode, DesktopAccess, DesktopHubs, Viewer
from deskpilot.sandbox.xserver import XServer
from tests.helpers.rfb_client import RfbClient, serving

pytestmark = pytest.mark.x11

VIEWERS = {"alice": Viewer("alice", may_control=True), "bob": Viewer("bob", may_control=False)}


@pytest.fixture(scope="module")
def desktop(start_x_display: Callable[..., AbstractContextManager[XServer]]) -> Iterator[XServer]:
    with start_x_display(mode="xvfb", width=320, height=240) as x:
        yield x


@dataclass
class Gateway:
    hubs: DesktopHubs
    url: str

    async def viewer(self, session: str = "good", name: str = "bob") -> RfbClient:
        return await RfbClient.connect(f"{self.url}/{session}?viewer={name}")

    async def raw(self, session: str = "good") -> ClientConnection:
        return await connect(f"{self.url}/{session}?viewer=alice", max_size=None)


@asynccontextmanager
async def gateway(desktops: dict[str, DesktopAccess], **options: object) -> AsyncIterator[Gateway]:
    async def lookup(session_id: str) -> DesktopAccess:
        return desktops[session_id]  # KeyError: no such session

    options.setdefault("handshake_timeout", 2.0)
    hubs = DesktopHubs(lookup, **options)  # type: ignore[arg-type]
    async with serving(hubs, VIEWERS) as url:
        try:
            yield Gateway(hubs, url)
        finally:
            await hubs.close("test over")


def access(x: XServer, password: str | None = None) -> DesktopAccess:
    return DesktopAccess(f"127.0.0.1:{x.vnc_port}", password or x.vnc_password, "sandbox-1")


async def closed_with(websocket: ClientConnection, timeout: float = 10.0) -> tuple[int, str]:
    """Read until the proxy closes; its close code and reason."""
    async with asyncio.timeout(timeout):
        try:
            while True:
                await websocket.recv()
        except ConnectionClosed as closed:
            assert closed.rcvd is not None, "closed without a close frame"
            return closed.rcvd.code, closed.rcvd.reason


async def greet(websocket: ClientConnection) -> None:
    """The viewer's side of the handshake, through ServerInit."""
    assert await websocket.recv() == b"RFB 003.008\n"
    await websocket.send(b"RFB 003.008\n")
    await websocket.recv()  # security types
    await websocket.send(b"\x01")
    await websocket.recv()  # SecurityResult
    await websocket.send(b"\x01")
    await websocket.recv()  # ServerInit


async def still_served(gw: Gateway, other: RfbClient) -> None:
    """`other` (already connected) and a new viewer both get whole screens."""
    await other.first_screen()
    fresh = await gw.viewer()
    await fresh.first_screen()
    assert fresh.rects[-1][:4] == (0, 0, fresh.width, fresh.height)


@pytest.mark.parametrize(
    ("message", "code", "reason"),
    [
        (b"\x07", CloseCode.UNKNOWN_MESSAGE, "unknown RFB client message type 7"),
        (b"\xff\x09\x00\x00", CloseCode.UNKNOWN_MESSAGE, "unknown QEMU client message 9"),
        (struct.pack(">BxH", 2, 5000), CloseCode.RFB_MALFORMED, "SetEncodings lists 5000"),
        (struct.pack(">BxxxIB", 248, 0, 200), CloseCode.RFB_MALFORMED, "Fence payload of 200"),
        (struct.pack(">BxHHBx", 251, 100, 100, 0), CloseCode.RFB_MALFORMED, "with 0 screens"),
        (
            b"\x00\x00\x00\x00" + struct.pack(">BBBBHHHBBB3x", 16, 16, 0, 1, 31, 63, 31, 11, 5, 0),
            CloseCode.PIXEL_FORMAT,
            "pixel format 16 bpp",
        ),
        (struct.pack(">Bxxxi", 6, 10**7), CloseCode.TOO_BIG, "clipboard text of 10000000 bytes"),
    ],
)
async def test_a_bad_client_message_closes_that_viewer_alone(
    desktop: XServer, message: bytes, code: CloseCode, reason: str
) -> None:
    async with gateway({"good": access(desktop)}) as gw:
        other = await gw.viewer()
        bad = await gw.raw()
        await greet(bad)
        await bad.send(message)
        got = await closed_with(bad)
        assert got[0] == code and reason in got[1], got
        await still_served(gw, other)


async def test_a_text_frame_is_refused(desktop: XServer) -> None:
    async with gateway({"good": access(desktop)}) as gw:
        bad = await gw.raw()
        await greet(bad)
        await bad.send("hello")
        assert await closed_with(bad) == (CloseCode.TEXT_FRAME, "RFB travels in binary frames only")


@pytest.mark.parametrize(
    ("version", "security", "code"),
    [
        (b"RFB 003.003\n", b"", CloseCode.RFB_VERSION),
        (b"RFB 003.008\n", b"\x02", CloseCode.RFB_SECURITY),
    ],
)
async def test_a_viewer_handshake_other_than_38_with_none_is_refused(
    desktop: XServer, version: bytes, security: bytes, code: CloseCode
) -> None:
    async with gateway({"good": access(desktop)}) as gw:
        bad = await gw.raw()
        await bad.recv()
        await bad.send(version + security)
        got = await closed_with(bad)
        assert got[0] == code, got


async def test_a_viewer_that_stops_mid_handshake_is_closed_after_the_timeout(
    desktop: XServer,
) -> None:
    async with gateway({"good": access(desktop)}, handshake_timeout=0.5) as gw:
        bad = await gw.raw()
        assert await closed_with(bad) == (
            CloseCode.HANDSHAKE_TIMEOUT,
            "RFB handshake not finished within 0.5 s",
        )


async def test_a_100_mb_frame_is_refused_before_it_is_buffered(desktop: XServer) -> None:
    async with gateway({"good": access(desktop)}) as gw:
        other = await gw.viewer()
        bad = await gw.raw()
        await greet(bad)
        peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        # One binary frame announcing 100 MB, written by hand (masked, as clients must),
        # then streamed: the proxy's websockets must refuse it from the header.
        size = 100 * 1024 * 1024
        bad.transport.write(b"\x82\xff" + struct.pack(">Q", size) + b"\x00\x00\x00\x00")
        chunk = bytes(1024 * 1024)
        for _ in range(100):
            if bad.transport.is_closing():
                break  # refused already
            bad.transport.write(chunk)
            await asyncio.sleep(0)
        code, reason = await closed_with(bad)
        peak_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        assert code == CloseCode.TOO_BIG, (code, reason)
        assert peak_after - peak_before < 50 * 1024  # KiB: the 100 MB were never held
        await still_served(gw, other)


async def test_a_pointer_flood_closes_the_flooding_viewer(desktop: XServer) -> None:
    async with gateway({"good": access(desktop)}, max_messages_per_second=200) as gw:
        await gw.hubs.set_controller("good", "alice")
        other = await gw.viewer()
        bad = await gw.raw()
        await greet(bad)
        await bad.send(struct.pack(">BBHH", 5, 0, 10, 10) * 5000)
        assert await closed_with(bad) == (
            CloseCode.INPUT_FLOOD,
            "more than 200 RFB messages per second",
        )
        await still_served(gw, other)


async def _hanging_vnc_server(banner: bytes) -> tuple[asyncio.Server, int]:
    """A TCP server that sends `banner` and then nothing at all."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(banner)
        await reader.read()  # until the proxy gives up
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


@pytest.mark.parametrize("banner", [b"", b"RFB 003.008\n"])
async def test_a_desktop_that_hangs_mid_handshake_closes_its_viewers_with_4011(
    desktop: XServer, banner: bytes
) -> None:
    server, port = await _hanging_vnc_server(banner)
    async with server:
        hanging = DesktopAccess(f"127.0.0.1:{port}", "secret", "sandbox-2")
        async with gateway(
            {"good": access(desktop), "hangs": hanging}, handshake_timeout=1.0
        ) as gw:
            other = await gw.viewer()
            bad = await gw.raw("hangs")
            await greet_until_server_init(bad)
            assert await closed_with(bad) == (
                CloseCode.DESKTOP_HANDSHAKE_TIMEOUT,
                "desktop did not finish the RFB handshake within 1 s",
            )
            await still_served(gw, other)


async def greet_until_server_init(websocket: ClientConnection) -> None:
    """The viewer's handshake up to ClientInit (the proxy answers it with ServerInit only
    once the desktop is there)."""
    await websocket.recv()
    await websocket.send(b"RFB 003.008\n")
    await websocket.recv()
    await websocket.send(b"\x01")
    await websocket.recv()
    await websocket.send(b"\x01")


async def test_a_dead_desktop_closes_its_viewers_with_4010(desktop: XServer) -> None:
    dead = DesktopAccess(f"127.0.0.1:{free_port('127.0.0.1')}", "secret", "sandbox-3")
    async with gateway({"good": access(desktop), "dead": dead}) as gw:
        other = await gw.viewer()
        bad = await gw.raw("dead")
        await greet_until_server_init(bad)
        assert await closed_with(bad) == (
            CloseCode.DESKTOP_UNAVAILABLE,
            "desktop unreachable (connection refused)",
        )
        await still_served(gw, other)


async def test_a_session_without_a_desktop_closes_with_4010(desktop: XServer) -> None:
    async with gateway({"good": access(desktop)}) as gw:
        bad = await gw.raw("unknown")
        await greet_until_server_init(bad)
        assert await closed_with(bad) == (
            CloseCode.DESKTOP_UNAVAILABLE,
            "no desktop for this session (KeyError)",
        )


async def test_a_wrong_vnc_password_closes_with_4012(desktop: XServer) -> None:
    async with gateway({"good": access(desktop, password="wrong!!!")}) as gw:
        bad = await gw.raw()
        await greet_until_server_init(bad)
        code, reason = await closed_with(bad)
        assert code == CloseCode.DESKTOP_AUTH_FAILED
        assert reason.startswith("desktop authentication failed")


async def test_a_desktop_that_goes_away_closes_its_viewers_with_4013(
    start_x_display: Callable[..., AbstractContextManager[XServer]],
) -> None:
    with start_x_display(mode="xvfb", width=320, height=240) as doomed:
        async with gateway({"good": access(doomed)}) as gw:
            viewer = await gw.viewer()
            await viewer.first_screen()
            doomed.stop()
            assert await closed_with(viewer.websocket) == (
                CloseCode.DESKTOP_LOST,
                "desktop connection lost",
            )
