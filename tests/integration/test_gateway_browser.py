"""The page in a real browser (Debian's Chromium, headless, through Playwright) against a
real gateway, orchestrator, safety gate, executors and X display: the person logs in
from the link, sees the sessions and starts one, watches the desktop draw (pixels read
from noVNC's canvas), approves a confirmation, takes control and hands it back, and
replays a finished session. Each page is saved under /tmp for a person to look at."""

from __future__ import annotations

import asyncio
import os
import subprocess

from playwright.async_api import Page, expect

from deskpilot.common.identity import Role
from deskpilot.standin import Turn
from deskpilot.v1 import orchestrator_pb2 as pb
from deskpilot.v1 import session_pb2
from tests.fixtures.auth import TENANT, test_auth
from tests.fixtures.browser import shot_path
from tests.fixtures.gateway import running_gateway
from tests.fixtures.orchestrator import follow_events, status_is
from tests.helpers.cli import run_cli

S = session_pb2
waiting_input = status_is(S.SESSION_STATUS_WAITING_INPUT)
waiting_confirmation = status_is(S.SESSION_STATUS_WAITING_CONFIRMATION)
SUDO = Turn.tool_use("bash", {"command": "sudo -n true; echo approved-run"})


async def _login(page: Page, gateway, path: str = "/", token: str | None = None) -> None:
    token = token or test_auth().mint(Role.ADMIN, subject="ana")
    await page.goto(f"{gateway.url}{path}#token={token}")
    await expect(page.locator("#who")).to_contain_text("ana")
    assert "token=" not in page.url  # the fragment is gone from the address


async def _session(stack, turns_done=waiting_input, task: str = "look") -> str:
    stub = stack.stub_as(test_auth().mint(Role.ADMIN, subject="ana"))
    config = S.SessionConfig(task=task, model="claude-sonnet-4-6")
    created = await stub.CreateSession(pb.CreateSessionRequest(config=config))
    await follow_events(stub, created.session.id, turns_done)
    return created.session.id


def _pointer(display: str) -> tuple[int, int]:
    out = subprocess.run(
        ["xdotool", "getmouselocation", "--shell"],
        env={**os.environ, "DISPLAY": display}, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    values = dict(line.split("=", 1) for line in out.split())
    return int(values["X"]), int(values["Y"])


async def _canvas_pixel(page: Page, x: int, y: int) -> list[int]:
    """The colour noVNC drew at desktop pixel (x, y) of its canvas."""
    return await page.evaluate(
        """([x, y]) => {
            const canvas = document.querySelector('.desktop-screen canvas');
            if (!canvas || !canvas.width) return [];
            return Array.from(canvas.getContext('2d').getImageData(x, y, 1, 1).data);
        }""",
        [x, y],
    )


async def test_the_page_lists_sessions_and_starts_one(orchestrator_stack, context) -> None:
    turns = [Turn.text("first"), Turn.text("started from the page")]
    async with orchestrator_stack(turns) as stack, running_gateway(stack) as gateway:
        first = await _session(stack, task="an earlier task")
        page = await context.new_page()
        await _login(page, gateway)
        row = page.locator(f"tr[data-session='{first}']")
        await expect(row).to_contain_text("an earlier task")
        await expect(row.locator(".badge.standin")).to_have_text("stand-in")
        await expect(row.locator(".badge").first).to_have_text("waiting for you")
        # The stand-in's tokens are priced like Claude's, but nothing was paid.
        await expect(row).to_contain_text("no cost (stand-in)")
        await expect(row).not_to_contain_text("$")
        await page.screenshot(path=shot_path("list-1280"))
        await page.set_viewport_size({"width": 1920, "height": 1080})
        await page.screenshot(path=shot_path("list-1920"))

        await page.fill("textarea[name=task]", "open the terminal")
        await page.select_option("select[name=display]", "1280x800")
        await page.fill("input[name=allowed_domains]", "example.com, wikipedia.org")
        await page.click("button:text('Start session')")
        await page.wait_for_url(f"{gateway.url}/sessions/**")
        new_id = page.url.rsplit("/", 1)[1]
        assert new_id != first
        await expect(page.locator(".chat-log")).to_contain_text("started from the page")
        await expect(page.locator(".session-head .badge").first).to_have_text("waiting for you")
        session = await stack.stub.GetSession(pb.GetSessionRequest(session_id=new_id))
        assert session.session.config.task == "open the terminal"
        assert list(session.session.config.safety_policy.allowed_domains) == [
            "example.com", "wikipedia.org"
        ]  # fmt: skip


async def test_the_session_page_shows_the_desktop_drawing(
    orchestrator_stack, context, event_window
) -> None:
    async with orchestrator_stack([Turn.text("ready")]) as stack, running_gateway(stack) as gateway:
        session_id = await _session(stack)
        page = await context.new_page()
        await _login(page, gateway, f"/sessions/{session_id}")
        await expect(page.locator(".desktop.live")).to_be_visible()
        # The red test window at (100, 100) reaches the browser's canvas.
        for _ in range(100):
            if (await _canvas_pixel(page, 300, 200))[:3] == [255, 0, 0]:
                break
            await asyncio.sleep(0.1)
        assert (await _canvas_pixel(page, 300, 200))[:3] == [255, 0, 0]
        await expect(page.locator(".mode")).to_have_text("view only")
        await expect(page.locator(".facts")).to_contain_text("no cost (stand-in)")
        await page.screenshot(path=shot_path("session-1280"))
        await page.set_viewport_size({"width": 1920, "height": 1080})
        await page.screenshot(path=shot_path("session-1920"))


async def test_a_person_approves_a_pending_confirmation(orchestrator_stack, context) -> None:
    turns = [SUDO, Turn.text("it ran")]
    async with orchestrator_stack(turns) as stack, running_gateway(stack) as gateway:
        session_id = await _session(stack, waiting_confirmation)
        page = await context.new_page()
        await _login(page, gateway, f"/sessions/{session_id}")
        card = page.locator(".confirm")
        await expect(card).to_contain_text("sudo -n true")
        await expect(card.locator(".reasons li").first).to_be_visible()  # the gate's reasons
        await page.screenshot(path=shot_path("confirmation"))
        await card.locator("[data-action=approve]").click()
        await expect(card).to_have_count(0)
        await expect(page.locator(".chat-log")).to_contain_text("approved by ana")
        await expect(page.locator(".chat-log")).to_contain_text("it ran")
        # The orchestrator recorded the page's approval under the person's name.
        request = pb.StreamEventsRequest(session_id=session_id)
        resolved = [
            reply.event.confirmation_resolved
            async for reply in stack.stub.StreamEvents(request)
            if reply.event.HasField("confirmation_resolved")
        ]
        assert [(r.approved, r.resolved_by) for r in resolved] == [(True, "ana")]


async def test_a_person_takes_control_and_hands_it_back(
    orchestrator_stack, context, x_display, event_window
) -> None:
    async with orchestrator_stack([Turn.text("ready")]) as stack, running_gateway(stack) as gateway:
        session_id = await _session(stack)
        page = await context.new_page()
        await _login(page, gateway, f"/sessions/{session_id}")
        await expect(page.locator(".desktop.live")).to_be_visible()
        await page.click("[data-action=take]")
        await expect(page.locator(".mode")).to_have_text("you have control")
        await expect(page.locator(".session-head .badge").first).to_have_text("person in control")
        canvas = page.locator(".desktop-screen canvas")
        box = await canvas.bounding_box()
        assert box is not None
        # Desktop pixel (640, 400), wherever the page scaled the canvas to.
        await page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
        for _ in range(50):
            x, y = _pointer(x_display.display)
            if abs(x - 640) <= 2 and abs(y - 400) <= 2:
                break
            await asyncio.sleep(0.1)
        assert abs(x - 640) <= 2 and abs(y - 400) <= 2, (x, y)
        await page.screenshot(path=shot_path("control"))
        await page.fill("input.handback", "looked around")
        await page.click("[data-action=release]")
        await expect(page.locator(".mode")).to_have_text("view only")
        await expect(page.locator(".chat-log")).to_contain_text("ana handed back: looked around")
        await expect(page.locator("[data-action=take]")).to_be_visible()


async def test_a_finished_session_replays_with_its_screenshots(orchestrator_stack, context) -> None:
    turns = [Turn.tool_use("computer", {"action": "screenshot"}), Turn.text("saw it")]
    async with orchestrator_stack(turns) as stack, running_gateway(stack) as gateway:
        session_id = await _session(stack)
        page = await context.new_page()
        page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
        await _login(page, gateway, f"/sessions/{session_id}")
        await expect(page.locator(".chat-log")).to_contain_text("saw it")
        await page.click("[data-action=cancel]")
        await expect(page.locator(".session-head .badge").first).to_have_text("cancelled")
        await page.click("a.button:text('Replay')")
        await page.wait_for_url(f"{gateway.url}/sessions/{session_id}/replay")
        await expect(page.locator(".position")).to_contain_text("/")
        shot = page.locator(".replay-shot")
        await expect(shot).to_be_visible()  # at the end: the last screenshot
        loaded = await shot.evaluate("img => img.complete && img.naturalWidth")
        assert loaded and loaded > 0
        await page.screenshot(path=shot_path("replay-end"))
        await page.locator(".scrubber").fill("0")
        await expect(page.locator(".position")).to_contain_text("1 /")
        await expect(page.locator(".replay-frame .desktop-state")).to_be_visible()
        assert await page.locator(".chat-log .msg").count() <= 1
        await page.click("[data-action=play]")
        await expect(page.locator(".chat-log")).to_contain_text("saw it", timeout=30_000)
        await page.screenshot(path=shot_path("replay"))


async def test_a_share_link_opens_one_session_to_watch_only(orchestrator_stack, context) -> None:
    turns = [Turn.text("a"), Turn.text("b")]
    async with orchestrator_stack(turns) as stack, running_gateway(stack) as gateway:
        shared, other = await _session(stack), await _session(stack)
        minted = await run_cli(
            "token", shared, "--role", "viewer", "--ttl", "1h", "--subject", "ana",
            "--tenant", TENANT, "--gateway", gateway.url,
            "--key-file", str(test_auth().private_key_file),
        )  # fmt: skip
        assert minted.code == 0, minted.err
        link = minted.out.strip()
        assert link.startswith(f"{gateway.url}/sessions/{shared}#token=")
        assert "viewer link for ana" in minted.err
        page = await context.new_page()
        await page.goto(link)
        await expect(page.locator("#who")).to_contain_text("viewer")
        await expect(page.locator(".chat-log")).to_contain_text("a")
        await expect(page.locator("[data-action=take]")).to_have_count(0)
        await expect(page.locator(".composer")).to_have_count(0)
        await page.goto(f"{gateway.url}/")  # the list is not theirs: back to their session
        await page.wait_for_url(f"{gateway.url}/sessions/{shared}")
        await page.goto(f"{gateway.url}/sessions/{other}")
        await expect(page.locator("#toast")).to_contain_text(f"does not reach session {other}")
