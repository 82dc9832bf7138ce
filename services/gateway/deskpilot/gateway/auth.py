"""Who is asking, and may they: the checks every route makes before it does anything.

A person's token comes from the `Authorization: Bearer` header or, for the page, from
the HttpOnly cookie that `/api/login` set. A missing, malformed, expired or revoked token
is 401; a valid token of a service (orchestrator, gateway) or one scoped to another
session is 403. Websockets are checked the same way, in the HTTP request, before the
upgrade. The Origin of every websocket and of every request that changes something
(login, logout) must be one of the allowed origins: browsers always send it there, so a
page of another site cannot act with the person's cookie. Requests without an Origin
come from programs that are not browsers; they present their token themselves.

The gateway forwards the person's own token to the orchestrator, which enforces tenants,
scopes, roles and revocation again; the gateway's checks answer early and precisely,
and keep people from ever reaching the gateway's own token.
"""

from __future__ import annotations

import http.cookies
from dataclasses import dataclass

from websockets.datastructures import Headers

from deskpilot.common.errors import Unauthenticated
from deskpilot.common.identity import PEOPLE, Identity, Role
from deskpilot.common.tokens import TokenVerifier
from deskpilot.gateway.http import Refusal

COOKIE = "deskpilot_token"
# What a browser says about where a request came from (Fetch Metadata); a request that
# changes something must come from the gateway's own page, or from no page at all.
_OWN_FETCH_SITES = frozenset({"same-origin", "none"})


@dataclass(frozen=True)
class Caller:
    """A person whose token verified: who, and the token to act with."""

    identity: Identity
    token: str

    @property
    def may_steer(self) -> bool:
        """Whether the role may change sessions (take control, approve, send)."""
        return self.identity.role != Role.VIEWER


class Gatekeeper:
    """Checks tokens, roles, scopes and origins; raises Refusal with the status."""

    def __init__(self, verifier: TokenVerifier, origins: frozenset[str]) -> None:
        self.verifier = verifier
        self.origins = origins

    def check_origin(self, headers: Headers) -> None:
        """403 unless the request's Origin, when it has one, is allowed."""
        origins = headers.get_all("Origin")
        if len(origins) > 1:
            raise Refusal(403, "more than one Origin header")
        if origins and origins[0] not in self.origins:
            raise Refusal(403, f"origin {origins[0]!r} is not allowed to use this gateway")

    def check_changes_allowed(self, headers: Headers) -> None:
        """For a request that changes something: an allowed Origin, and not sent by a
        page of another site (Fetch Metadata), else 403."""
        self.check_origin(headers)
        site = headers.get("Sec-Fetch-Site")
        if site is not None and site not in _OWN_FETCH_SITES:
            raise Refusal(403, f"a {site} request may not change anything here")

    def caller(self, headers: Headers) -> Caller:
        """The person presenting a valid token; 401 or 403 otherwise."""
        token = self._token(headers)
        try:
            identity = self.verifier.verify(token)
        except Unauthenticated as exc:
            raise Refusal(401, str(exc)) from None
        if identity.role not in PEOPLE:
            raise Refusal(
                403, f"{identity.describe()} is a service's token; the gateway serves people"
            )
        return Caller(identity, token)

    def recheck(self, caller: Caller) -> None:
        """401 once the token has expired or been revoked (before each command)."""
        try:
            self.verifier.recheck(caller.identity)
        except Unauthenticated as exc:
            raise Refusal(401, str(exc)) from None

    @staticmethod
    def check_scope(caller: Caller, session_id: str) -> None:
        """403 when the token is scoped to another session."""
        scope = caller.identity.session_id
        if scope and scope != session_id:
            raise Refusal(
                403, f"the token of {caller.identity.describe()} does not reach session "
                f"{session_id}",
            )  # fmt: skip

    @staticmethod
    def check_may_steer(caller: Caller, what: str) -> None:
        """403 for a viewer asking to change something."""
        if not caller.may_steer:
            raise Refusal(403, f"{caller.identity.describe()} may only watch, not {what}")

    def _token(self, headers: Headers) -> str:
        authorization = headers.get_all("Authorization")
        if len(authorization) > 1:
            raise Refusal(401, "more than one Authorization header; send one")
        if authorization:
            scheme, _, token = authorization[0].strip().partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Refusal(401, "the Authorization header must be `Bearer <token>`")
            return token.strip()
        token = _cookie(headers)
        if not token:
            raise Refusal(
                401, "no token: open the login link `deskpilot up` printed, or send "
                "`Authorization: Bearer <token>` (`deskpilot token mint` makes one)",
            )  # fmt: skip
        return token


def _cookie(headers: Headers) -> str:
    """The login cookie's value, or ""."""
    for header in headers.get_all("Cookie"):
        jar = http.cookies.SimpleCookie()
        try:
            jar.load(header)
        except http.cookies.CookieError:
            continue
        if COOKIE in jar:
            return jar[COOKIE].value
    return ""


def login_cookie(token: str, max_age: int, *, secure: bool) -> str:
    """The Set-Cookie value that keeps `token` for the page: out of reach of scripts
    (HttpOnly) and of other sites' requests (SameSite=Strict)."""
    flags = "; Secure" if secure else ""
    return f"{COOKIE}={token}; Path=/; Max-Age={max(max_age, 0)}; HttpOnly; SameSite=Strict{flags}"


def logout_cookie(*, secure: bool) -> str:
    return login_cookie("", 0, secure=secure)
