"""`/healthz` (ready: serving, not draining, NATS answering) and `/metrics` (Prometheus).
Neither needs a token: they say nothing about any session."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from websockets.http11 import Response

from deskpilot.gateway.http import json_response, respond
from deskpilot.gateway.routes import Context, Route


async def healthz(ctx: Context) -> Response:
    if ctx.app.draining:
        return json_response(503, {"status": "draining"})
    reason = await ctx.app.bus.unreachable_reason()
    if reason is not None:
        return json_response(503, {"status": "unavailable", "reason": reason})
    return json_response(200, {"status": "ok"})


async def metrics(ctx: Context) -> Response:
    return respond(200, generate_latest(REGISTRY), CONTENT_TYPE_LATEST)


ROUTES = [
    Route("health", r"/healthz", http=healthz),
    Route("metrics", r"/metrics", http=metrics),
]
