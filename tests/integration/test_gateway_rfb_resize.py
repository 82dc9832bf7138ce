"""The desktop changes size under the fan-out proxy (RandR on a real X server, as `xrandr`
does it): a viewer that lists DesktopSize gets the new size and then the right pixels;
one that does not is closed with 4007, since the proxy cannot tell it otherwise."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager, asynccontextmanager

import numpy as np
import pytest
from websockets.exceptions import ConnectionClosed
from Xlib import X

from deskpilot.display.xconnection import open_display
from deskpilot.gateway.desktop import CloseCode, DesktopAccess, DesktopHubs, Viewer
from deskpilot.sandbox.xserver import XServer
from tests.fixtures.xdisplay import running_xterm
from tests.helpers.rfb_client import COPY_RECT, DEFAULT_ENCODINGS, RAW, TIGHT, RfbClient, serving

pytestmark = pytest.mark.x11

SESSION = "s1"
# Xvfb's screen can change within the size it started at; Xvnc's can grow too.
SIZES = {"xvfb": ((800, 600), [(640, 480), (320, 240), (800, 600)]),
         "xvnc": ((640, 480), [(1024, 768), (800, 600), (640, 480)])}  # fmt: skip


@asynccontextmanager
async def gateway(x: XServer) -> AsyncIterator[str]:
    access = DesktopAccess(f"127.0.0.1:{x.vnc_port}", x.vnc_password, "sandbox-1")

    async def lookup(session_id: str) -> DesktopAccess:
        return access

    hubs = DesktopHubs(lookup)
    async with serving(hubs, {"bob": Viewer("bob", may_control=False)}) as url:
        try:
            yield f"{url}/{SESSION}?viewer=bob"
        finally:
            await hubs.close("test over")


def set_screen_size(x: XServer, width: int, height: int) -> None:
    """What `xrandr --output ... --mode WxH --fb WxH` does: a mode of that size (made if
    the server has none), the screen resized to it, the one CRTC showing it."""
    os.environ["XAUTHORITY"] = str(x.xauthority)
    conn = open_display(x.display)
    try:
        root = conn.screen().root
        resources = root.xrandr_get_screen_resources()._data
        stamp, crtc = resources["config_timestamp"], resources["crtcs"][0]
        outputs = conn.xrandr_get_crtc_info(crtc, stamp)._data["outputs"]
        mode = next(
            (m.id for m in resources["modes"] if (m.width, m.height) == (width, height)), None
        )
        if mode is None:
            name = f"{width}x{height}"
            info = {"id": 0, "width": width, "height": height, "dot_clock": 0,
                    "h_sync_start": 0, "h_sync_end": 0, "h_total": width, "h_skew": 0,
                    "v_sync_start": 0, "v_sync_end": 0, "v_total": height,
                    "name_length": len(name), "flags": 0}  # fmt: skip
            mode = root.xrandr_create_mode(info, name).mode
            conn.xrandr_add_output_mode(outputs[0], mode)
        conn.xrandr_set_crtc_config(crtc, stamp, 0, 0, 0, 1, [])  # off, so the screen may shrink
        millimetres = (width * 254 // 960, height * 254 // 960)  # at 96 dpi
        root.xrandr_set_screen_size(width, height, *millimetres)
        conn.xrandr_set_crtc_config(crtc, stamp, 0, 0, mode, 1, outputs)
        conn.sync()
    finally:
        conn.close()


def screen_rgb(x: XServer) -> np.ndarray:
    """The X server's own pixels, as red, green, blue bytes."""
    conn = open_display(x.display)
    try:
        root = conn.screen().root
        geometry = root.get_geometry()
        width, height = geometry.width, geometry.height
        data = root.get_image(0, 0, width, height, X.ZPixmap, 0xFFFFFFFF).data
        return np.frombuffer(data, np.uint8).reshape(height, width, 4)[:, :, 2::-1]
    finally:
        conn.close()


async def close_code(client: RfbClient, timeout: float = 10.0) -> int | None:
    async with asyncio.timeout(timeout):
        try:
            while True:
                await client.websocket.recv()
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd is not None else None


@pytest.mark.parametrize("mode", ["xvfb", "xvnc"])
async def test_a_resized_desktop_reaches_viewers_with_its_new_size_and_pixels(
    start_x_display: Callable[..., AbstractContextManager[XServer]], mode: str
) -> None:
    (width, height), sizes = SIZES[mode]
    seen = []
    with (
        start_x_display(mode=mode, width=width, height=height) as x,
        running_xterm(x, "30x8+20+30", "seq 1 5; sleep 600"),
    ):
        async with gateway(x) as url:
            raw = await RfbClient.connect(url)
            tight = await RfbClient.connect(url, encodings=(TIGHT, *DEFAULT_ENCODINGS))
            unaware = await RfbClient.connect(url, encodings=(COPY_RECT, RAW))
            for client in (raw, tight, unaware):
                await client.first_screen()
            for size in sizes:
                await asyncio.to_thread(set_screen_size, x, *size)
                for client in (raw, tight):
                    await client.read_until(lambda c, s=size: (c.width, c.height) == s)
                    await client.read_for(1.0)  # the keyframe after it, and any redraw
                expected = await asyncio.to_thread(screen_rgb, x)
                seen.append(((raw.width, raw.height), (tight.width, tight.height)))
                assert expected.shape[:2] == (size[1], size[0])
                assert (raw.rgb() == expected).all(), size
                assert (tight.rgb() == expected).all(), size
            unaware_code = await close_code(unaware)
    assert seen == [(size, size) for size in sizes]
    assert unaware_code == CloseCode.DESKTOP_RESIZED
