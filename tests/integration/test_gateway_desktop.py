"""The live desktop through the real gateway: a raw RFB viewer on /ws/vnc/<id> (token
and Origin checked before the upgrade) sees the session's real X display, and a
person's pointer reaches it only while they hold the control lease, taken and handed back
over /ws/api the way the page does it."""

from __future__ import annotations

import os
import subprocess

from deskpilot.common.identity import Role
from deskpilot.standin import Turn
from deskpilot.v1 import orchestrator_pb2 as pb
from deskpilot.v1 import session_pb2
from tests.fixtures.auth import test_auth
from tests.fixtures.gateway import bearer, command, open_websocket, running_gateway
from tests.fixtures.orchestrator import follow_events, status_is
from tests.helpers.rfb_client import RfbClient

waiting_input = status_is(session_pb2.SESSION_STATUS_WAITING_INPUT)


def _pointer(display: str) -> tuple[int, int]:
    out = subprocess.run(
        ["xdotool", "getmouselocation", "--shell"],
        env={**os.environ, "DISPLAY": display}, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    values = dict(line.split("=", 1) for line in out.split())
    return int(values["X"]), int(values["Y"])


async def _waiting_session(stub) -> str:
    """A new session of the stub's caller, once it waits for a message."""
    config = session_pb2.SessionConfig(task="look", model="claude-sonnet-4-6")
    created = await stub.CreateSession(pb.CreateSessionRequest(config=config))
    await follow_events(stub, created.session.id, waiting_input)
    return created.session.id


async def _viewer(gateway, session_id: str, token: str) -> RfbClient:
    client = await RfbClient.connect(
        f"{gateway.ws_url}/ws/vnc/{session_id}",
        additional_headers=bearer(token),
        origin=gateway.origin,
    )
    await client.first_screen()
    return client


async def _moves_pointer(client: RfbClient, display: str, x: int, y: int) -> bool:
    """Send a pointer move and say whether the X pointer got there."""
    await client.pointer(x, y)
    for _ in range(40):
        await client.read_for(0.05)
        if _pointer(display) == (x, y):
            return True
    return False


async def test_only_the_person_holding_the_lease_moves_the_desktop_pointer(
    orchestrator_stack, x_display, event_window
) -> None:
    async with orchestrator_stack([Turn.text("ready")]) as stack, running_gateway(stack) as gateway:
        user = test_auth().mint(Role.USER, subject="ana")
        stub = stack.stub_as(user)
        session_id = await _waiting_session(stub)

        watcher = await _viewer(gateway, session_id, test_auth().mint(Role.VIEWER))
        driver = await _viewer(gateway, session_id, user)
        assert (driver.width, driver.height) == (1280, 800)
        # The real desktop's pixels arrive: the red test window at (100, 100), drawn by
        # the time the window is mapped, or in an update just after.
        await driver.read_until(lambda c: c.rgb()[200, 300].tolist() == [255, 0, 0])
        assert driver.rgb()[200, 300].tolist() == [255, 0, 0]

        assert not await _moves_pointer(driver, x_display.display, 101, 102)  # no lease
        async with open_websocket(gateway, "/ws/api", user) as api:
            taken = await command(api, "take", session=session_id)
            assert taken["ok"], taken
            assert taken["session"]["controlled_by"] == "ana"
            assert await _moves_pointer(driver, x_display.display, 201, 202)
            assert not await _moves_pointer(watcher, x_display.display, 301, 302)
            released = await command(api, "release", session=session_id, note="moved it")
            assert released["ok"], released
        assert not await _moves_pointer(driver, x_display.display, 401, 402)
        for client in (watcher, driver):
            await client.close()


async def test_a_lease_taken_elsewhere_reaches_the_viewers_already_open(
    orchestrator_stack, x_display, event_window
) -> None:
    async with orchestrator_stack([Turn.text("ready")]) as stack, running_gateway(stack) as gateway:
        user = test_auth().mint(Role.USER, subject="ana")
        stub = stack.stub_as(user)
        session_id = await _waiting_session(stub)
        driver = await _viewer(gateway, session_id, user)
        assert not await _moves_pointer(driver, x_display.display, 111, 112)

        # Taken and handed back through the orchestrator, as `deskpilot take` does: not
        # through this gateway, which learns it from the session's events a moment later.
        await stub.TakeControl(pb.TakeControlRequest(session_id=session_id))
        assert await _until(driver, x_display.display, moving=True)
        await stub.ReleaseControl(pb.ReleaseControlRequest(session_id=session_id))
        assert await _until(driver, x_display.display, moving=False)
        await driver.close()


async def _until(client: RfbClient, display: str, *, moving: bool) -> bool:
    """Whether, within a few seconds, the viewer's pointer moves start (or stop) reaching
    the desktop: each try moves to a fresh point and waits for it a moment."""
    for step in range(40):
        x, y = 500 + step, 300 + step
        await client.pointer(x, y)
        arrived = False
        for _ in range(6):
            await client.read_for(0.05)
            if _pointer(display) == (x, y):
                arrived = True
                break
        if arrived == moving:
            return True
    return False


async def test_a_session_without_a_desktop_is_refused_before_the_upgrade(
    orchestrator_stack,
) -> None:
    async with orchestrator_stack([Turn.text("ready")]) as stack, running_gateway(stack) as gateway:
        user = test_auth().mint(Role.USER)
        stub = stack.stub_as(user)
        config = session_pb2.SessionConfig(task="look", model="claude-sonnet-4-6")
        created = await stub.CreateSession(pb.CreateSessionRequest(config=config))
        await follow_events(stub, created.session.id, waiting_input)
        await stub.DeleteSession(pb.DeleteSessionRequest(session_id=created.session.id))
        from websockets.exceptions import InvalidStatus

        try:
            await _viewer(gateway, created.session.id, user)
            status = 101
        except InvalidStatus as refused:
            status = refused.response.status_code
        assert status == 404
