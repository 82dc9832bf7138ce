"""Who may use the gateway, against a real gateway in front of a real orchestrator stack:
every route that shows or changes a session refuses a missing, bad, expired or revoked
token with 401 and a service's or another session's token with 403, before any
websocket upgrade; a page of another origin is 403; a token for session A never opens B;
a viewer of tenant A never sees tenant B's sessions."""

from __future__ import annotations

import json
import time

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from deskpilot.common.identity import Role
from deskpilot.common.revocation import revoke
from deskpilot.common.tokens import unverified_claims
from deskpilot.standin import Turn
from deskpilot.v1 import orchestrator_pb2 as pb
from deskpilot.v1 import session_pb2
from tests.fixtures.auth import test_auth
from tests.fixtures.gateway import (
    bearer,
    command,
    gateway_token,
    http_get,
    open_websocket,
    running_gateway,
)
from tests.fixtures.orchestrator import follow_events, status_is

waiting_input = status_is(session_pb2.SESSION_STATUS_WAITING_INPUT)


async def _session(stack, tenant: str = "tenant-a") -> str:
    """A session of `tenant`, waiting for input."""
    stub = stack.stub_as(test_auth().mint(Role.USER, tenant=tenant))
    config = session_pb2.SessionConfig(task="look", model="claude-sonnet-4-6")
    created = await stub.CreateSession(pb.CreateSessionRequest(config=config))
    await follow_events(stub, created.session.id, waiting_input)
    return created.session.id


async def _upgrade_status(gateway, path: str, token: str | None, origin: str | None = None) -> int:
    """The status a websocket upgrade gets (101 when it opens)."""
    try:
        async with open_websocket(gateway, path, token, origin=origin):
            return 101
    except InvalidStatus as refused:
        return refused.response.status_code


async def test_the_page_health_and_metrics_answer_without_a_token(orchestrator_stack) -> None:
    async with orchestrator_stack([Turn.text("hi")]) as stack, running_gateway(stack) as gateway:
        page = await http_get(gateway.url + "/")
        assert page.status == 200
        assert b"<title>deskpilot</title>" in page.body
        assert "default-src 'self'" in page.headers["Content-Security-Policy"]
        assert (await http_get(gateway.url + "/healthz")).json() == {"status": "ok"}
        metrics = await http_get(gateway.url + "/metrics")
        assert b"deskpilot_gateway_requests_total" in metrics.body
        missing = await http_get(gateway.url + "/static/../settings.py")
        assert missing.status == 404


async def test_missing_bad_expired_and_revoked_tokens_are_401_before_any_upgrade(
    orchestrator_stack,
) -> None:
    async with orchestrator_stack([Turn.text("hi")]) as stack, running_gateway(stack) as gateway:
        session_id = await _session(stack)
        expired = test_auth().mint(ttl_seconds=60, now=time.time() - 3600)
        revoked = test_auth().mint()
        revoke(test_auth().revoked_file, unverified_claims(revoked)["jti"])
        other_key = "eyJhbGciOiJFZERTQSJ9.e30.c2lnbmF0dXJl"
        for token in (None, "not-a-token", other_key, expired, revoked):
            answer = await http_get(f"{gateway.url}/api/sessions", bearer(token) if token else None)
            assert answer.status == 401, (token, answer.body)
            assert answer.json()["error"]
            for path in (f"/ws/events/{session_id}", f"/ws/vnc/{session_id}", "/ws/api"):
                assert await _upgrade_status(gateway, path, token) == 401, (token, path)
        why = (await http_get(f"{gateway.url}/api/me", bearer(expired))).json()["error"]
        assert "expired" in why
        why = (await http_get(f"{gateway.url}/api/me", bearer(revoked))).json()["error"]
        assert "revoked" in why


async def test_service_tokens_are_403_the_gateway_serves_people(orchestrator_stack) -> None:
    async with orchestrator_stack([Turn.text("hi")]) as stack, running_gateway(stack) as gateway:
        for token in (gateway_token(), test_auth().orchestrator_token):
            answer = await http_get(f"{gateway.url}/api/sessions", bearer(token))
            assert answer.status == 403
            assert "service" in answer.json()["error"]
            assert await _upgrade_status(gateway, "/ws/api", token) == 403


async def test_a_token_for_session_a_never_opens_session_b(orchestrator_stack) -> None:
    turns = [Turn.text("a"), Turn.text("b")]
    async with orchestrator_stack(turns) as stack, running_gateway(stack) as gateway:
        a, b = await _session(stack), await _session(stack)
        for role in (Role.VIEWER, Role.USER, Role.ADMIN):
            token = test_auth().mint(role, session_id=a)
            assert (await http_get(f"{gateway.url}/api/sessions/{a}", bearer(token))).status == 200
            refused = await http_get(f"{gateway.url}/api/sessions/{b}", bearer(token))
            assert refused.status == 403, role
            assert f"does not reach session {b}" in refused.json()["error"]
            shot = await http_get(
                f"{gateway.url}/api/sessions/{b}/screenshots/toolu_1.png", bearer(token)
            )
            assert shot.status == 403
            for path in (f"/ws/events/{b}", f"/ws/vnc/{b}"):
                assert await _upgrade_status(gateway, path, token) == 403, (role, path)
            assert await _upgrade_status(gateway, f"/ws/events/{a}", token) == 101
            listed = await http_get(f"{gateway.url}/api/sessions", bearer(token))
            assert [s["id"] for s in listed.json().get("sessions", [])] == [a]
        async with open_websocket(
            gateway, "/ws/api", test_auth().mint(Role.USER, session_id=a)
        ) as api:
            answer = await command(api, "cancel", session=b)
            assert (answer["ok"], answer["status"]) == (False, 403)
            answer = await command(api, "create", task="another")
            assert (answer["ok"], answer["status"]) == (False, 403)


async def test_a_viewer_of_tenant_a_never_sees_tenant_b(orchestrator_stack) -> None:
    turns = [Turn.text("a"), Turn.text("b")]
    async with orchestrator_stack(turns) as stack, running_gateway(stack) as gateway:
        mine, theirs = await _session(stack, "tenant-a"), await _session(stack, "tenant-b")
        viewer = test_auth().mint(Role.VIEWER, tenant="tenant-a", subject="ana")
        listed = await http_get(f"{gateway.url}/api/sessions", bearer(viewer))
        assert [s["id"] for s in listed.json()["sessions"]] == [mine]
        hidden = await http_get(f"{gateway.url}/api/sessions/{theirs}", bearer(viewer))
        assert hidden.status == 404
        assert hidden.json()["error"] == f"session {theirs} not found"
        for path in (f"/ws/events/{theirs}", f"/ws/vnc/{theirs}"):
            assert await _upgrade_status(gateway, path, viewer) == 404
        shot = await http_get(
            f"{gateway.url}/api/sessions/{theirs}/screenshots/toolu_1.png", bearer(viewer)
        )
        assert shot.status == 404
        admin = test_auth().mint(Role.ADMIN, tenant="tenant-a")
        every = await http_get(f"{gateway.url}/api/sessions", bearer(admin))
        assert {s["id"] for s in every.json()["sessions"]} == {mine, theirs}


async def test_a_viewer_may_watch_but_not_steer(orchestrator_stack) -> None:
    async with orchestrator_stack([Turn.text("a")]) as stack, running_gateway(stack) as gateway:
        session_id = await _session(stack)
        viewer = test_auth().mint(Role.VIEWER)
        async with open_websocket(gateway, f"/ws/events/{session_id}", viewer) as events:
            first = await events.recv()
            assert session_id in first
        async with open_websocket(gateway, "/ws/api", viewer) as api:
            for op in ("take", "cancel", "send", "delete"):
                answer = await command(api, op, session=session_id, text="hi")
                assert (answer["ok"], answer["status"]) == (False, 403), op
                assert "may only watch" in answer["error"]


async def test_pages_of_other_origins_are_403_before_any_upgrade(orchestrator_stack) -> None:
    async with orchestrator_stack([Turn.text("a")]) as stack, running_gateway(stack) as gateway:
        session_id = await _session(stack)
        token = test_auth().mint()
        for path in (f"/ws/events/{session_id}", f"/ws/vnc/{session_id}", "/ws/api"):
            assert await _upgrade_status(gateway, path, token, "http://evil.example") == 403
        assert await _upgrade_status(gateway, "/ws/api", token) == 101
        login = await http_get(
            f"{gateway.url}/api/login", {**bearer(token), "Origin": "http://evil.example"}
        )
        assert login.status == 403
        assert "not allowed" in login.json()["error"]
        cross_site = await http_get(f"{gateway.url}/api/logout", {"Sec-Fetch-Site": "cross-site"})
        assert cross_site.status == 403


async def test_login_trades_the_token_for_an_httponly_strict_cookie(orchestrator_stack) -> None:
    async with orchestrator_stack([Turn.text("a")]) as stack, running_gateway(stack) as gateway:
        await _session(stack)
        token = test_auth().mint(Role.ADMIN, subject="ana")
        login = await http_get(
            f"{gateway.url}/api/login",
            {**bearer(token), "Origin": gateway.origin, "Sec-Fetch-Site": "same-origin"},
        )
        assert login.status == 200
        assert login.json()["subject"] == "ana"
        cookie = login.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
        pair = cookie.split(";", 1)[0]
        listed = await http_get(f"{gateway.url}/api/sessions", {"Cookie": pair})
        assert listed.status == 200 and len(listed.json()["sessions"]) == 1
        assert (await http_get(f"{gateway.url}/api/login", {"Cookie": pair})).status == 401
        logout = await http_get(f"{gateway.url}/api/logout")
        assert "Max-Age=0" in logout.headers["Set-Cookie"]


async def test_bad_requests_get_precise_statuses(orchestrator_stack) -> None:
    async with orchestrator_stack([Turn.text("a")]) as stack, running_gateway(stack) as gateway:
        token = bearer(test_auth().mint())
        bad_id = await http_get(f"{gateway.url}/api/sessions/a.b", token)
        assert bad_id.status == 400 and "invalid session id" in bad_id.json()["error"]
        bad_file = await http_get(f"{gateway.url}/api/sessions/s1/screenshots/..%2fx.png", token)
        assert bad_file.status == 400
        assert (await http_get(f"{gateway.url}/api/sessions?status=nope", token)).status == 400
        assert (await http_get(f"{gateway.url}/ws/api", token)).status == 426
        assert (await http_get(f"{gateway.url}/nothing-here")).status == 404
        async with open_websocket(gateway, "/ws/api", test_auth().mint()) as api:
            await api.send("not json")
            answer = json.loads(await api.recv())
            assert answer["status"] == 400 and "JSON object" in answer["error"]
            answer = await command(api, "fly")
            assert answer["status"] == 400 and "op must be one of" in answer["error"]


async def test_a_drain_closes_open_websockets_with_1001_and_a_reason(orchestrator_stack) -> None:
    async with orchestrator_stack([Turn.text("a")]) as stack:
        session_id = await _session(stack)
        async with running_gateway(stack) as gateway:
            token = test_auth().mint()
            async with open_websocket(gateway, f"/ws/events/{session_id}", token) as events:
                await events.recv()
                await gateway.server.drain()
                with pytest.raises(ConnectionClosed):
                    while True:
                        await events.recv()
                assert events.close_code == 1001
                assert "shutting down" in events.close_reason
