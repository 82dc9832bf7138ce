"""`/ws/events/<id>?from=N`: a session's events as JSON, replayed from sequence N (1: the
start) and then live, for the event log, the chat and replay.

The orchestrator's StreamEvents answers, called with the person's own token: it checks
the tenant and the token's scope, and ends the stream as soon as the token expires or is
revoked (before sending anything more), so the gateway forwards what it is given and
closes with 4401 when the stream ends that way. The first message is the session itself.
"""

from __future__ import annotations

from websockets.asyncio.server import ServerConnection

from deskpilot.gateway.codec import to_json
from deskpilot.gateway.http import Refusal
from deskpilot.gateway.routes import Context, Route, Serve
from deskpilot.gateway.websocket import send_json, until_either_ends


async def events(ctx: Context) -> Serve:
    gate = ctx.app.gatekeeper
    gate.check_origin(ctx.request.headers)
    caller = gate.caller(ctx.request.headers)
    session_id = ctx.session_id
    gate.check_scope(caller, session_id)
    first = ctx.query.get("from", "1")
    if not first.isdigit():
        raise Refusal(400, f"from must be a sequence number (got {first!r})")
    follow = ctx.query.get("follow", "1") != "0"
    orchestrator = ctx.app.orchestrator
    session = await orchestrator.get_session(caller, session_id)  # 404 before the upgrade

    async def serve(connection: ServerConnection) -> None:
        async def pump() -> None:
            await send_json(connection, {"type": "session", "session": to_json(session)})
            stream = orchestrator.stream_events(caller, session_id, int(first), follow=follow)
            async for reply in stream:
                await send_json(connection, {"type": "event", "event": to_json(reply.event)})
            await send_json(connection, {"type": "end"})

        await until_either_ends(connection, pump)

    return serve


ROUTES = [Route("events", r"/ws/events/(?P<session>[^/]+)", websocket=events)]
