"""HTTP answers as the websockets server sends them: status, headers and a body.

Every answer closes its connection (the websockets server serves one HTTP request per
connection) and carries headers that keep the page's data in the page: no caching of
private answers, no MIME sniffing, no framing by other sites, no referrer.
"""

from __future__ import annotations

import http
import json
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from websockets.datastructures import Headers
from websockets.http11 import Request, Response

_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Resource-Policy": "same-origin",
}
# The page loads only its own scripts, styles and images, and opens websockets only back
# to the gateway; nothing from a CDN.
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


class Refusal(Exception):
    """A request the gateway answers with an error status (before any upgrade), or a
    websocket it closes with code 4000 + status."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason

    @property
    def close_code(self) -> int:
        """The websocket close code for this refusal (4401, 4403, 4404 …)."""
        return 4000 + self.status


def respond(
    status: int,
    body: bytes,
    content_type: str,
    *,
    headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
    cache: str = "no-store",
) -> Response:
    """An answer with the security headers every answer carries."""
    out = Headers()
    out["Content-Type"] = content_type
    out["Content-Length"] = str(len(body))
    out["Cache-Control"] = cache
    out["Connection"] = "close"
    for name, value in _SECURITY_HEADERS.items():
        out[name] = value
    items = headers.items() if isinstance(headers, Mapping) else headers
    for name, value in items:
        out[name] = value
    return Response(status, http.HTTPStatus(status).phrase, out, body)


def json_response(status: int, value: Any, **options: Any) -> Response:
    body = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    return respond(status, body, "application/json; charset=utf-8", **options)


def error_response(status: int, reason: str) -> Response:
    """`{"status": 404, "error": "session s-1 not found"}`."""
    return json_response(status, {"status": status, "error": reason})


def query_of(request: Request) -> dict[str, str]:
    """The request's query parameters (the last of repeated ones)."""
    return dict(parse_qsl(urlsplit(request.path).query, keep_blank_values=True))


def path_of(request: Request) -> str:
    """The request's path without its query."""
    return request.path.split("?", 1)[0]
