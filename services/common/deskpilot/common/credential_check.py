"""The executors' gate: every call must carry the sandbox credential.

Health checks and reflection stay open (probes and grpcurl need no secret, and they
reveal nothing); every other call without the credential, or with a wrong one, ends with
UNAUTHENTICATED before its handler runs.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from deskpilot.common.grpc_handlers import UNGUARDED_METHODS, wrap_handler
from deskpilot.common.sandbox_credential import METADATA_KEY

MISSING = (
    f"this executor answers only its orchestrator: the call carries no sandbox credential "
    f"(metadata {METADATA_KEY})"
)
WRONG = "this executor answers only its orchestrator: the sandbox credential is wrong"


class CredentialCheck(grpc.aio.ServerInterceptor):
    """Lets through only calls presenting `credential` (and health and reflection)."""

    def __init__(self, credential: str) -> None:
        if not credential:
            raise ValueError("an executor needs a non-empty credential")
        self._expected = credential.encode()

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None or handler_call_details.method.startswith(UNGUARDED_METHODS):
            return handler
        refusal = self._refusal(handler_call_details.invocation_metadata or ())
        return handler if refusal is None else _refusing(handler, refusal)

    def _refusal(self, metadata: Any) -> str | None:
        presented = [value for key, value in metadata if key == METADATA_KEY]
        if not presented:
            return MISSING
        value = presented[0]
        given = value if isinstance(value, bytes) else str(value).encode()
        # Constant time: how much of a guess matched must not show in the answer's timing.
        return None if len(presented) == 1 and hmac.compare_digest(given, self._expected) else WRONG


def _refusing(handler: grpc.RpcMethodHandler, message: str) -> grpc.RpcMethodHandler:
    """A handler of the same kind as `handler` that only refuses the call."""

    async def refuse(request: Any, context: grpc.aio.ServicerContext) -> None:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, message)

    # The refusal aborts before any answer, so one coroutine serves every kind of call.
    return wrap_handler(handler, lambda _behavior: refuse, lambda _behavior: refuse)
