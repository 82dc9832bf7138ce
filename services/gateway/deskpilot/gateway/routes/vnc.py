"""`/ws/vnc/<id>`: the session's live desktop for noVNC, through the desktop proxy
(`deskpilot.gateway.desktop`).

Before the upgrade: the Origin, the person's token, its scope, and GetSession with that
token (404 for a session of another tenant, as for one that does not exist). Only then
does the proxy ask the orchestrator, with the gateway's own token, where the desktop is.
Whether this viewer's input may ever reach the desktop is decided here, from the role;
whether it does now is the proxy's, from who holds the control lease, which the control
follower keeps in step with the session's events while it has viewers.
"""

from __future__ import annotations

from websockets.asyncio.server import ServerConnection

from deskpilot.gateway.desktop import Viewer
from deskpilot.gateway.http import Refusal
from deskpilot.gateway.routes import Context, Route, Serve

# noVNC asks for this subprotocol in some versions and for none in others.
SUBPROTOCOL = "binary"


async def vnc(ctx: Context) -> Serve:
    gate = ctx.app.gatekeeper
    gate.check_origin(ctx.request.headers)
    caller = gate.caller(ctx.request.headers)
    session_id = ctx.session_id
    gate.check_scope(caller, session_id)
    session = await ctx.app.orchestrator.get_session(caller, session_id)
    if not session.sandbox_id:
        raise Refusal(409, f"session {session_id} has no desktop running now")
    viewer = Viewer(name=caller.identity.subject, may_control=caller.may_steer)
    app = ctx.app

    async def serve(connection: ServerConnection) -> None:
        if session.controlled_by:  # until the follower has read the session's events
            await app.desktops.set_controller(session_id, session.controlled_by)
        async with app.control.watching(session_id):
            await app.desktops.serve_viewer(session_id, connection, viewer)

    return serve


ROUTES = [Route("vnc", r"/ws/vnc/(?P<session>[^/]+)", websocket=vnc)]
