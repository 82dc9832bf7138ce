"""The server interceptor that makes every caller prove who it is.

Every RPC but health checking and reflection must carry `authorization: Bearer <token>`
metadata. No token, or a bad, expired or revoked one, ends the call UNAUTHENTICATED with
the reason; a valid token whose role the method does not allow ends it PERMISSION_DENIED.
A service says which roles may call each of its methods in its binding's `access`; a
method it does not name is refused (so a new RPC is closed until someone opens it). The
caller's identity is then current for the call (`identity.current_identity()`), where
finer checks (a tenant's sessions, a token's one session) belong to the servicer. A
stream (a followed event log) is checked again before each message it sends: it ends
UNAUTHENTICATED once its token has expired or been revoked.

How a caller is recognised is an `Authenticator`; `BearerTokens` reads signed tokens.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol

import grpc

from deskpilot.common.errors import PermissionDenied, ServiceError, Unauthenticated
from deskpilot.common.grpc_handlers import (
    UNGUARDED_METHODS,
    Behavior,
    stream_through,
    wrap_handler,
)
from deskpilot.common.identity import Identity, Role, acting_as
from deskpilot.common.tokens import TokenVerifier

# Which roles may call each method of a service, by the method's name ("GetSession").
Access = Mapping[str, frozenset[Role]]
Metadata = Sequence[tuple[str, str | bytes]]


class Authenticator(Protocol):
    """Recognises the caller of an RPC from its metadata, or raises Unauthenticated."""

    def authenticate(self, metadata: Metadata) -> Identity: ...

    def recheck(self, identity: Identity) -> None:
        """Raise Unauthenticated if `identity` no longer holds (expired, revoked)."""


class BearerTokens:
    """Callers present a signed token as `authorization: Bearer <token>`."""

    def __init__(self, verifier: TokenVerifier) -> None:
        self.verifier = verifier

    def authenticate(self, metadata: Metadata) -> Identity:
        values = [value for key, value in metadata if key.lower() == "authorization"]
        if not values:
            raise Unauthenticated(
                "no credentials: send the metadata `authorization: Bearer <token>` "
                "(`deskpilot token mint` makes a token)"
            )
        if len(values) > 1:
            raise Unauthenticated("more than one authorization metadata entry; send one")
        value = values[0]
        if isinstance(value, bytes):
            value = value.decode("ascii", "replace")
        scheme, _, token = value.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("the authorization metadata must be `Bearer <token>`")
        return self.verifier.verify(token.strip())

    def recheck(self, identity: Identity) -> None:
        self.verifier.recheck(identity)


class AuthInterceptor(grpc.aio.ServerInterceptor):
    """Authenticates each RPC, checks its binding's access, and makes the caller current.

    `access` maps a service's full name to its Access; a service it does not list (a
    generic handler) admits any authenticated caller.
    """

    def __init__(self, authenticator: Authenticator, access: Mapping[str, Access]) -> None:
        self.authenticator = authenticator
        self.access = dict(access)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or method.startswith(UNGUARDED_METHODS):
            return handler
        identity: Identity | None = None
        refusal: ServiceError | None = None
        try:
            identity = self.authenticator.authenticate(handler_call_details.invocation_metadata)
            self._authorize(identity, method)
        except ServiceError as exc:  # Unauthenticated or PermissionDenied
            refusal = exc
        return wrap_handler(
            handler,
            lambda behavior: _unary(behavior, identity, refusal),
            lambda behavior: _stream(behavior, identity, refusal, self.authenticator),
        )

    def _authorize(self, identity: Identity, method: str) -> None:
        service, _, name = method.lstrip("/").partition("/")
        if service not in self.access:
            return
        if identity.role not in self.access[service].get(name, frozenset()):
            short = service.rsplit(".", 1)[-1]
            raise PermissionDenied(f"{identity.describe()} may not call {short}/{name}")


def _unary(behavior: Behavior, identity: Identity | None, refusal: ServiceError | None) -> Behavior:
    async def authenticated(request: Any, context: grpc.aio.ServicerContext) -> Any:
        if refusal is not None or identity is None:
            await _refuse(context, refusal)
        with acting_as(identity):
            return await behavior(request, context)

    return authenticated


def _stream(
    behavior: Behavior,
    identity: Identity | None,
    refusal: ServiceError | None,
    authenticator: Authenticator,
) -> Callable[..., AsyncIterator[Any]]:
    async def authenticated(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        if refusal is not None or identity is None:
            await _refuse(context, refusal)
        with acting_as(identity):
            async for item in stream_through(behavior, request, context):
                try:
                    authenticator.recheck(identity)
                except Unauthenticated as exc:  # expired or revoked while streaming
                    await _refuse(context, exc)
                yield item

    return authenticated


async def _refuse(context: grpc.aio.ServicerContext, refusal: ServiceError | None) -> None:
    error = refusal or Unauthenticated("the caller could not be authenticated")
    await context.abort(error.code, error.message)
