"""The gateway's desktop proxy against a real Xvfb + x11vnc, served from a bare websockets
server: the handshake, who may drive the desktop, lease changes, fan-out against
pass-through pixels, late joiners and stalled viewers."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager, asynccontextmanager
from dataclasses import dataclass

import pytest
from prometheus_client import REGISTRY

from deskpilot.gateway.desktop import DesktopAccess, DesktopHubs, Viewer
from deskpilot.sandbox.xserver import XServer
from tests.fixtures.xdisplay import EventRecorder, buttons_held, keys_held, running_xterm
from tests.helpers.rfb_client import (
    DEFAULT_ENCODINGS,
    TIGHT,
    VIEWER_PIXEL_FORMAT,
    RfbClient,
    serving,
)

pytestmark = pytest.mark.x11

SESSION = "s1"
VIEWERS = {
    "alice": Viewer("alice", may_control=True),
    "bob": Viewer("bob", may_control=True),
    "alice-view-only": Viewer("alice", may_control=False),
}
SHIFT_L = 0xFFE1


@pytest.fixture(scope="module")
def desktop(start_x_display: Callable[..., AbstractContextManager[XServer]]) -> Iterator[XServer]:
    with start_x_display(mode="xvfb", width=640, height=480) as x:
        yield x


@dataclass
class Gateway:
    hubs: DesktopHubs
    url: str

    async def viewer(self, name: str, **kwargs: object) -> RfbClient:
        return await RfbClient.connect(f"{self.url}/{SESSION}?viewer={name}", **kwargs)  # type: ignore[arg-type]


@asynccontextmanager
async def gateway(desktop: XServer, **options: object) -> AsyncIterator[Gateway]:
    access = DesktopAccess(f"127.0.0.1:{desktop.vnc_port}", desktop.vnc_password, "sandbox-1")

    async def lookup(session_id: str) -> DesktopAccess:
        return access

    hubs = DesktopHubs(lookup, **options)  # type: ignore[arg-type]
    async with serving(hubs, VIEWERS) as url:
        try:
            yield Gateway(hubs, url)
        finally:
            await hubs.close("test over")


def pointer_at(x: XServer) -> tuple[int, int]:
    out = subprocess.run(
        ["xdotool", "getmouselocation"], env=x.env(), capture_output=True, text=True, check=True
    ).stdout
    fields = dict(part.split(":") for part in out.split())
    return int(fields["x"]), int(fields["y"])


def upstream_connections(x: XServer) -> int:
    """Established TCP connections to the VNC server's port (seen from the server)."""
    out = subprocess.run(
        ["ss", "-Htn", "state", "established", f"( sport = :{x.vnc_port} )"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return len(out.splitlines())


async def eventually(check: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        await asyncio.sleep(0.05)
    return check()


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.parametrize("subprotocols", [("binary",), None])
async def test_handshake_is_rfb_38_with_no_auth_and_the_viewer_pixel_format(
    desktop: XServer, subprotocols: tuple[str, ...] | None
) -> None:
    async with gateway(desktop) as gw:
        client = await gw.viewer("bob", subprotocols=subprotocols)
        await client.first_screen()
        assert client.websocket.subprotocol == (subprotocols[0] if subprotocols else None)
        assert (client.width, client.height, client.name) == (640, 480, b"deskpilot")
        assert client.server_pixel_format == VIEWER_PIXEL_FORMAT
        assert client.rects[-1][:4] == (0, 0, 640, 480)  # the first screen is whole


@pytest.mark.parametrize("mode", ["fanout", "passthrough"])
async def test_only_the_controllers_pointer_moves_the_x_pointer(
    desktop: XServer, mode: str
) -> None:
    async with gateway(desktop, mode=mode) as gw:
        await gw.hubs.set_controller(SESSION, "alice")
        alice, bob, view_only = [await gw.viewer(n) for n in ("alice", "bob", "alice-view-only")]
        await alice.pointer(123, 45)
        assert await eventually(lambda: pointer_at(desktop) == (123, 45))
        await bob.pointer(300, 300)
        await view_only.pointer(310, 310)
        await alice.pointer(124, 46)  # a marker: everything before it has been handled
        assert await eventually(lambda: pointer_at(desktop) == (124, 46))
        await bob.pointer(200, 200)
        await asyncio.sleep(0.3)
        assert pointer_at(desktop) == (124, 46)
        await gw.hubs.set_controller(SESSION, "bob")
        await bob.pointer(201, 202)
        assert await eventually(lambda: pointer_at(desktop) == (201, 202))


@pytest.mark.parametrize("mode", ["fanout", "passthrough"])
async def test_view_only_input_never_reaches_the_desktop(desktop: XServer, mode: str) -> None:
    recorder = EventRecorder(desktop.display, 0, 0, 640, 480, 0x00FF00)
    try:
        async with gateway(desktop, mode=mode) as gw:
            await gw.hubs.set_controller(SESSION, "alice")  # its name, not its token
            view_only = await gw.viewer("alice-view-only")
            alice = await gw.viewer("alice")
            await view_only.pointer(50, 60, mask=1)
            await view_only.pointer(50, 60, mask=0)
            await view_only.key(ord("a"), True)
            await view_only.key(ord("a"), False)
            marker = (70, 80) if mode == "fanout" else (71, 81)  # the pointer is not there yet
            await alice.pointer(*marker)  # after the view-only input
            await asyncio.to_thread(recorder.wait_for, lambda ev: any(e.x == marker[0] for e in ev))
            await asyncio.sleep(0.3)  # pass-through: the view-only viewer has its own upstream
            events = recorder.events()
        assert [(e.kind, e.x, e.y) for e in events if e.kind != "motion"] == []
        assert [(e.x, e.y) for e in events] == [marker]
    finally:
        recorder.close()


@pytest.mark.parametrize("mode", ["fanout", "passthrough"])
async def test_a_lease_change_releases_held_keys_and_buttons(desktop: XServer, mode: str) -> None:
    async with gateway(desktop, mode=mode) as gw:
        await gw.hubs.set_controller(SESSION, "alice")
        alice = await gw.viewer("alice")
        await alice.key(SHIFT_L, True)
        await alice.pointer(100, 100, mask=1)
        assert await eventually(
            lambda: keys_held(desktop.display) and buttons_held(desktop.display)
        )
        changes = metric("deskpilot_gateway_lease_changes_total", session=SESSION)
        await gw.hubs.set_controller(SESSION, None)
        # Keys and buttons are let go in separate messages: wait for both, not the first.
        assert await eventually(
            lambda: not keys_held(desktop.display) and buttons_held(desktop.display) == 0
        )
        assert metric("deskpilot_gateway_lease_changes_total", session=SESSION) == changes + 1
        assert pointer_at(desktop) == (100, 100)  # let go where it was


async def test_fanout_pixels_equal_passthrough_pixels(desktop: XServer) -> None:
    command = "seq 1 40; printf '\\033[41m red \\033[42m green \\033[0m'; sleep 600"
    with running_xterm(desktop, "60x20+30+40", command):
        async with (
            gateway(desktop, mode="fanout") as fanout,
            gateway(desktop, mode="passthrough") as oracle,
        ):
            raw = await fanout.viewer("bob")
            tight = await fanout.viewer("bob", encodings=(TIGHT, *DEFAULT_ENCODINGS))
            plain = await oracle.viewer("bob")
            for client in (raw, tight, plain):
                await client.first_screen()
            for client in (raw, tight, plain):
                await client.read_for(1.0)  # anything still drawing has settled
        assert (raw.rgb() == plain.rgb()).all()
        assert (tight.rgb() == plain.rgb()).all()
        assert TIGHT in [r[4] for r in tight.rects]
        assert len({tuple(c.rgb()[50, 40]) for c in (raw, tight, plain)}) == 1


@pytest.mark.parametrize(("mode", "expected"), [("fanout", 1), ("passthrough", 3)])
async def test_fanout_keeps_one_upstream_however_many_watch(
    desktop: XServer, mode: str, expected: int
) -> None:
    async with gateway(desktop, mode=mode) as gw:
        clients = [await gw.viewer("bob") for _ in range(3)]
        for client in clients:
            await client.first_screen()
        assert upstream_connections(desktop) == expected
        assert gw.hubs.viewers(SESSION) == 3


async def test_a_late_joiner_starts_from_a_keyframe_of_the_current_screen(desktop: XServer) -> None:
    with running_xterm(desktop, "60x20+0+0", "while :; do date +%N; done"):
        async with gateway(desktop) as gw:
            early = await gw.viewer("bob")
            await early.first_screen()
            await early.read_for(0.5)
            joins = metric("deskpilot_gateway_keyframes_total", session=SESSION, reason="join")
            late = await gw.viewer("bob")
            await late.first_screen()
            joined = metric("deskpilot_gateway_keyframes_total", session=SESSION, reason="join")
    assert late.updates == 1 and (0, 0, 640, 480, 0) in late.rects  # one whole screen
    assert joined == joins + 1


async def test_a_stalled_viewer_does_not_hold_back_another(desktop: XServer) -> None:
    with running_xterm(desktop, "80x24+0+0", "while :; do ls -lR /usr; done"):
        async with gateway(desktop, max_viewer_queue_bytes=256 * 1024, stall_seconds=2.0) as gw:
            reader = await gw.viewer("bob")
            await reader.first_screen()
            flowing = reader.updates + 5
            await reader.read_until(lambda c: c.updates >= flowing)  # the terminal scrolls
            stalled = await gw.viewer("bob", receive_buffer=16 * 1024)
            await stalled.request()  # asks for pixels, then never reads them
            stalled.stall()
            resyncs = metric("deskpilot_gateway_keyframes_total", session=SESSION, reason="resync")
            closed = metric("deskpilot_gateway_viewer_closes_total", code="4006")
            counts = []
            for _ in range(6):
                before = reader.updates
                await reader.read_for(1.0)
                counts.append(reader.updates - before)
            behind = (
                metric("deskpilot_gateway_keyframes_total", session=SESSION, reason="resync")
                - resyncs
                + metric("deskpilot_gateway_viewer_closes_total", code="4006")
                - closed
            )
        assert behind >= 1  # the stalled viewer fell behind: resynced or closed
        assert all(count > 0 for count in counts), counts  # the other got updates every second


async def test_fanout_sends_updates_only_in_answer_to_requests(desktop: XServer) -> None:
    with running_xterm(desktop, "80x24+0+0", "while :; do ls -lR /usr; done"):
        async with gateway(desktop) as gw:
            client = await gw.viewer("bob")
            await client.first_screen()  # and asks for the next update, as noVNC does
            assert await client.read_message() == 0
            with pytest.raises(TimeoutError):  # the screen changes, but nobody asked
                await asyncio.wait_for(client.read_message(), 1.0)
            before = len(client.rects)
            await client.request(incremental=True)
            assert await client.read_message() == 0
            assert client.updates == 3
            merged = len(client.rects) - before
            with pytest.raises(TimeoutError):  # one request, one update
                await asyncio.wait_for(client.read_message(), 1.0)
    # That one update carries what changed meanwhile (how many rectangles depends on how
    # the desktop's updates fell during the second, so only that there are some).
    assert merged >= 1


async def test_a_viewer_that_asks_slowly_ends_on_the_same_pixels_as_pass_through(
    desktop: XServer,
) -> None:
    """Changes merged for a slow viewer (CopyRects of scrolling among them) and keyframes
    taken while the desktop sends updates leave the same screen as relaying bytes."""
    command = "timeout 3 sh -c 'while :; do ls -lR /usr; done'; echo done; sleep 600"
    with running_xterm(desktop, "80x24+0+0", command):
        async with (
            gateway(desktop, mode="fanout", max_viewer_queue_bytes=512 * 1024) as fanout,
            gateway(desktop, mode="passthrough") as oracle,
        ):
            fast = await fanout.viewer("bob")
            tight = await fanout.viewer("bob", encodings=(TIGHT, *DEFAULT_ENCODINGS))
            slow = await fanout.viewer("bob")
            plain = await oracle.viewer("bob")
            for client in (fast, tight, slow, plain):
                await client.first_screen()
            deadline = time.monotonic() + 4.0
            while time.monotonic() < deadline:  # `slow` takes its update every 0.3 s
                await asyncio.gather(*(c.read_for(0.3) for c in (fast, tight, plain)))
                await slow.read_for(0.02)
            for client in (fast, tight, slow, plain):
                await client.read_for(1.0)  # the terminal has stopped: all settle
    assert slow.updates < fast.updates
    assert (fast.rgb() == plain.rgb()).all()
    assert (tight.rgb() == plain.rgb()).all()
    assert (slow.rgb() == plain.rgb()).all()
