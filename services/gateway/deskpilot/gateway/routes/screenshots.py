"""`/api/sessions/<id>/screenshots/<file>`: a screenshot of the session, from the NATS
object store. The orchestrator names each one `<session id>/<tool use id>.<format>`, so
the object asked for is always under the session's own prefix, and the person must see
that session (GetSession with their token) before a byte is read."""

from __future__ import annotations

import re

from websockets.http11 import Response

from deskpilot.bus import SCREENSHOTS_BUCKET, BusConfigError, BusUnavailable, ObjectNotFound
from deskpilot.gateway.http import Refusal, respond
from deskpilot.gateway.routes import Context, Route

_FILE = re.compile(r"^[A-Za-z0-9_-]{1,256}\.(png|jpeg|webp)$")
_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}


def object_name(session_id: str, file: str) -> str:
    """The object a screenshot URL names; 400 for a file name the orchestrator never
    writes (so no name can climb out of the session's prefix)."""
    if not _FILE.match(file):
        raise Refusal(400, f"{file!r} is not a screenshot name (<tool use id>.png|jpeg|webp)")
    return f"{session_id}/{file}"


async def screenshot(ctx: Context) -> Response:
    caller = ctx.app.gatekeeper.caller(ctx.request.headers)
    session_id = ctx.session_id
    ctx.app.gatekeeper.check_scope(caller, session_id)
    name = object_name(session_id, ctx.params["file"])
    await ctx.app.orchestrator.get_session(caller, session_id)  # 404 unless they see it
    try:
        data = await ctx.app.bus.get_object(SCREENSHOTS_BUCKET, name)
    except (ObjectNotFound, BusConfigError):  # BusConfigError: no screenshot stored yet
        raise Refusal(404, f"session {session_id} has no screenshot {ctx.params['file']}") from None
    except (BusUnavailable, TimeoutError) as exc:
        raise Refusal(503, f"the screenshot store does not answer: {exc}") from None
    kind = _TYPES[name.rsplit(".", 1)[1]]
    # A screenshot never changes once stored (its name is its tool call's), so the
    # browser may keep it, for this person only.
    return respond(200, data, kind, cache="private, max-age=86400, immutable")


ROUTES = [
    Route(
        "screenshot",
        r"/api/sessions/(?P<session>[^/]+)/screenshots/(?P<file>[^/]+)",
        http=screenshot,
    ),
]
