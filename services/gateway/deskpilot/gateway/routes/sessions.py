"""The sessions JSON API (reads): `/api/sessions` and `/api/sessions/<id>`, answered by
the orchestrator with the person's own token, so a viewer of tenant A never sees
tenant B's sessions. Changes go over the command websocket (`commands.py`)."""

from __future__ import annotations

from websockets.http11 import Response

from deskpilot.gateway.codec import to_json
from deskpilot.gateway.http import Refusal, json_response
from deskpilot.gateway.routes import Context, Route
from deskpilot.v1 import orchestrator_pb2 as pb
from deskpilot.v1 import session_pb2

MAX_PAGE_SIZE = 100


async def list_sessions(ctx: Context) -> Response:
    caller = ctx.app.gatekeeper.caller(ctx.request.headers)
    query = ctx.query
    statuses = []
    for name in filter(None, query.get("status", "").split(",")):
        full = name if name.startswith("SESSION_STATUS_") else f"SESSION_STATUS_{name.upper()}"
        if full not in list(session_pb2.SessionStatus.keys()):
            raise Refusal(400, f"status {name!r} is not a session status")
        statuses.append(session_pb2.SessionStatus.Value(full))
    size = query.get("page_size", "50")
    if not size.isdigit() or not 0 < int(size) <= MAX_PAGE_SIZE:
        raise Refusal(400, f"page_size must be 1..{MAX_PAGE_SIZE} (got {size!r})")
    request = pb.ListSessionsRequest(
        statuses=statuses, page_size=int(size), page_token=query.get("page_token", "")
    )
    reply = await ctx.app.orchestrator.call(caller, "ListSessions", request)
    return json_response(200, to_json(reply))  # type: ignore[arg-type]


async def get_session(ctx: Context) -> Response:
    caller = ctx.app.gatekeeper.caller(ctx.request.headers)
    session_id = ctx.session_id
    ctx.app.gatekeeper.check_scope(caller, session_id)
    session = await ctx.app.orchestrator.get_session(caller, session_id)
    return json_response(200, {"session": to_json(session)})


ROUTES = [
    Route("sessions", r"/api/sessions", http=list_sessions),
    Route("session", r"/api/sessions/(?P<session>[^/]+)", http=get_session),
]
