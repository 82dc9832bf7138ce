"""The gateway's server: one websockets server for HTTP GETs and websockets alike.

Every request goes through `process_request`, which finds its route and either answers
it (HTTP, and every refusal: 401, 403, 404 … before any upgrade) or lets the websocket
handshake go on, keeping what the route prepared for the connection. Draining (SIGTERM)
turns /healthz to 503, closes every open websocket with 1001 and a reason (the desktop
proxy first, so viewers learn why), and stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from deskpilot.bus import Bus
from deskpilot.common.client_tokens import TokenFile
from deskpilot.common.security import bearer_tokens, channel_credentials
from deskpilot.gateway.app import App
from deskpilot.gateway.auth import Gatekeeper
from deskpilot.gateway.control_follower import ControlFollower
from deskpilot.gateway.desktop import (
    MAX_VIEWER_MESSAGE_BYTES,
    CloseCode,
    DesktopAccess,
    DesktopError,
    DesktopHubs,
)
from deskpilot.gateway.http import Refusal, error_response, path_of
from deskpilot.gateway.metrics import OPEN_WEBSOCKETS, REQUESTS
from deskpilot.gateway.orchestrator import Orchestrator
from deskpilot.gateway.routes import Context, Router, Serve, all_routes
from deskpilot.gateway.routes.vnc import SUBPROTOCOL
from deskpilot.gateway.settings import GatewaySettings
from deskpilot.gateway.websocket import close_with

log = logging.getLogger("deskpilot.gateway")

GOING_AWAY = 1001
DRAIN_REASON = "the gateway is shutting down; reconnect in a moment"


class GatewayServer:
    """`async with GatewayServer(settings) as gateway:` serves until the block ends
    (or `drain()`); `gateway.port` is the port bound."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        self.router = Router(all_routes())
        self.app: App | None = None
        self._server: Server | None = None
        self._prepared: dict[ServerConnection, tuple[str, Serve]] = {}
        self._stack = contextlib.AsyncExitStack()

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        host = self.settings.host
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}"

    async def __aenter__(self) -> GatewayServer:
        try:
            await self._start()
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.drain()

    async def _start(self) -> None:
        settings = self.settings
        authenticator = bearer_tokens(settings.auth, settings.service_name)
        if settings.auth.token_file is None:
            raise ValueError(
                "the gateway needs its own token to reach desktops: set --auth.token-file / "
                "DESKPILOT_GATEWAY_AUTH__TOKEN_FILE (`deskpilot up` writes one)"
            )
        gateway_token = TokenFile(settings.auth.token_file)
        bus = await Bus.connect(settings.nats_url, "gateway", seed_file=settings.nats_seed_file)
        self._stack.push_async_callback(bus.close)
        orchestrator = Orchestrator(
            settings.orchestrator_address,
            gateway_token,
            credentials=channel_credentials(settings.tls),
            max_message_mb=settings.max_message_mb,
        )
        self._stack.push_async_callback(orchestrator.close)
        gatekeeper = Gatekeeper(authenticator.verifier, frozenset())
        desktops = _desktop_hubs(orchestrator, settings)
        control = ControlFollower(orchestrator, desktops)
        self._stack.push_async_callback(control.close)
        self.app = App(settings, gatekeeper, orchestrator, bus, desktops, control)
        self._server = await serve(
            self._handle,
            settings.host,
            settings.port,
            process_request=self._process_request,
            select_subprotocol=_select_subprotocol,
            max_size=max(settings.max_message_kb * 1024, MAX_VIEWER_MESSAGE_BYTES),
            # No permessage-deflate: it would compress each viewer's copy of the desktop's
            # shared bytes again, and hide a stalled viewer behind a 50x smaller backlog.
            compression=None,
            server_header="deskpilot-gateway",
            logger=_quiet_websockets_log(),
        )
        gatekeeper.origins = settings.origins(self.port)
        origins = ", ".join(sorted(gatekeeper.origins))
        log.info("gateway serving on %s (origins allowed: %s)", self.url, origins)

    async def drain(self, reason: str = DRAIN_REASON) -> None:
        """Stop: refuse new work, close every websocket with 1001 and `reason`, release."""
        if self._server is None:
            await self._stack.aclose()
            return
        server, self._server = self._server, None
        assert self.app is not None
        self.app.draining = True
        server.close(close_connections=False)
        await self.app.desktops.close(reason)
        open_connections = list(server.connections)
        await asyncio.gather(
            *(close_with(c, GOING_AWAY, reason) for c in open_connections), return_exceptions=True
        )
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.settings.grace_seconds):
                await server.wait_closed()
        await self._stack.aclose()

    async def _process_request(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        assert self.app is not None
        path = path_of(request)
        found = self.router.find(path)
        if found is None:
            REQUESTS.labels("none", "404").inc()
            return error_response(404, f"nothing at {path}")
        route, params = found
        ctx = Context(request, self.app, params)
        try:
            if self.app.draining:
                raise Refusal(503, DRAIN_REASON)
            if route.websocket is not None:
                if not _is_upgrade(request.headers):
                    raise Refusal(426, f"{path} is a websocket; open it with a websocket client")
                serve_it = await route.websocket(ctx)
                self._prepared[connection] = (route.name, serve_it)
                REQUESTS.labels(route.name, "101").inc()
                return None
            assert route.http is not None
            response = await route.http(ctx)
        except Refusal as refusal:
            response = error_response(refusal.status, refusal.reason)
        except Exception:
            log.exception("%s %s failed", route.name, path)
            response = error_response(500, "internal error in the gateway")
        REQUESTS.labels(route.name, str(response.status_code)).inc()
        return response

    async def _handle(self, connection: ServerConnection) -> None:
        prepared = self._prepared.pop(connection, None)
        if prepared is None:  # cannot happen: every upgrade was prepared
            await close_with(connection, 1011, "no route prepared this websocket")
            return
        name, serve_it = prepared
        gauge = OPEN_WEBSOCKETS.labels(name)
        gauge.inc()
        try:
            await serve_it(connection)
        finally:
            gauge.dec()


def _quiet_websockets_log() -> logging.Logger:
    """The websockets server's logger, at warnings: it logs every HTTP answer as a
    "connection rejected" (our routes count them in /metrics instead)."""
    quiet = logging.getLogger("deskpilot.gateway.websockets")
    quiet.setLevel(max(logging.WARNING, logging.getLogger().level))
    return quiet


def _is_upgrade(headers: Headers) -> bool:
    return "websocket" in headers.get("Upgrade", "").lower()


def _select_subprotocol(connection: ServerConnection, offered: Sequence[str]) -> str | None:
    """noVNC's `binary` when it asks for it; no subprotocol otherwise."""
    return SUBPROTOCOL if SUBPROTOCOL in offered else None


def _desktop_hubs(orchestrator: Orchestrator, settings: GatewaySettings) -> DesktopHubs:
    """The desktop proxy, reaching each session's VNC server with what the orchestrator
    tells the gateway."""

    async def access(session_id: str) -> DesktopAccess:
        try:
            reply = await orchestrator.desktop_access(session_id)
        except Refusal as refusal:  # no sandbox now, or the orchestrator is away
            raise DesktopError(CloseCode.DESKTOP_UNAVAILABLE, refusal.reason) from None
        return DesktopAccess(reply.vnc_address, reply.vnc_password, reply.sandbox_id)

    return DesktopHubs(access, mode=settings.desktop_mode)
