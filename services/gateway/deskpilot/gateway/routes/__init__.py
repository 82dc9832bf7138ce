"""The gateway's routes, one module per group. A route answers an HTTP GET (`http`) or
prepares a websocket (`websocket`): it checks everything in the HTTP request and returns
what serves the connection once upgraded, or raises Refusal, which is answered with its
status before any upgrade."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request, Response

from deskpilot.bus import check_session_id
from deskpilot.gateway.app import App
from deskpilot.gateway.http import Refusal, path_of, query_of


@dataclass
class Context:
    """One request: what was asked, the route's parameters, and the gateway."""

    request: Request
    app: App
    params: dict[str, str] = field(default_factory=dict)

    @property
    def path(self) -> str:
        return path_of(self.request)

    @property
    def query(self) -> dict[str, str]:
        return query_of(self.request)

    @property
    def session_id(self) -> str:
        """The route's session id, checked: 400 unless it is a safe token."""
        value = self.params["session"]
        try:
            return check_session_id(value)
        except ValueError as exc:
            raise Refusal(400, str(exc)) from None


Serve = Callable[[ServerConnection], Awaitable[None]]
HttpHandler = Callable[[Context], Awaitable[Response]]
WebsocketHandler = Callable[[Context], Awaitable[Serve]]


@dataclass(frozen=True)
class Route:
    """`pattern` (a regular expression matching the whole path) and what answers it."""

    name: str
    pattern: str
    http: HttpHandler | None = None
    websocket: WebsocketHandler | None = None

    def match(self, path: str) -> dict[str, str] | None:
        found = re.fullmatch(self.pattern, path)
        return None if found is None else found.groupdict()


class Router:
    """Finds the route of a path."""

    def __init__(self, routes: list[Route]) -> None:
        self.routes = routes

    def find(self, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self.routes:
            params = route.match(path)
            if params is not None:
                return route, params
        return None


def all_routes() -> list[Route]:
    """Every route of the gateway, most specific first."""
    from deskpilot.gateway.routes import (
        commands,
        events,
        health,
        login,
        pages,
        screenshots,
        sessions,
        vnc,
    )

    return [
        *health.ROUTES,
        *login.ROUTES,
        *sessions.ROUTES,
        *screenshots.ROUTES,
        *events.ROUTES,
        *commands.ROUTES,
        *vnc.ROUTES,
        *pages.ROUTES,
    ]
