"""`/api/login`, `/api/logout` and `/api/me`.

The login link carries the token in its fragment (`#token=…`), which a browser never
sends to a server, so no log holds it. The page sends it once, in an `Authorization`
header of a GET to `/api/login`, which answers with an HttpOnly, SameSite=Strict cookie
(scripts cannot read it, other sites' requests do not carry it), and then forgets it.
Both login and logout change what the browser holds, so they are refused to pages of
other origins.
"""

from __future__ import annotations

import time

from websockets.http11 import Response

from deskpilot.gateway.auth import Caller, login_cookie, logout_cookie
from deskpilot.gateway.http import Refusal, json_response
from deskpilot.gateway.routes import Context, Route


def identity_json(caller: Caller) -> dict[str, object]:
    who = caller.identity
    return {
        "subject": who.subject,
        "tenant": who.tenant,
        "role": str(who.role),
        "session_id": who.session_id,
        "expires_at": who.expires_at,
        "may_steer": caller.may_steer,
    }


async def login(ctx: Context) -> Response:
    gate = ctx.app.gatekeeper
    gate.check_changes_allowed(ctx.request.headers)
    if not ctx.request.headers.get("Authorization"):
        raise Refusal(401, "send the token as `Authorization: Bearer <token>` to log in")
    caller = gate.caller(ctx.request.headers)
    max_age = int(caller.identity.expires_at - time.time())
    cookie = login_cookie(caller.token, max_age, secure=ctx.app.settings.cookie_secure)
    return json_response(200, identity_json(caller), headers=[("Set-Cookie", cookie)])


async def logout(ctx: Context) -> Response:
    ctx.app.gatekeeper.check_changes_allowed(ctx.request.headers)
    cookie = logout_cookie(secure=ctx.app.settings.cookie_secure)
    return json_response(200, {"logged_out": True}, headers=[("Set-Cookie", cookie)])


async def me(ctx: Context) -> Response:
    return json_response(200, identity_json(ctx.app.gatekeeper.caller(ctx.request.headers)))


ROUTES = [
    Route("login", r"/api/login", http=login),
    Route("logout", r"/api/logout", http=logout),
    Route("me", r"/api/me", http=me),
]
