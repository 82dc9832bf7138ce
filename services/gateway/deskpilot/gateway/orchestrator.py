"""The gateway's way to the orchestrator: every call on a person's behalf carries that
person's own token, so the orchestrator decides (tenant, scope, role, revocation) as it
would for the CLI. The gateway's own token is used for one call only, GetDesktopAccess,
and only after the person's GetSession has shown that they see the session."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from deskpilot.common.client_tokens import TokenSource
from deskpilot.common.grpc_client import open_channel
from deskpilot.gateway.auth import Caller
from deskpilot.gateway.http import Refusal
from deskpilot.v1 import orchestrator_pb2 as pb
from deskpilot.v1 import orchestrator_pb2_grpc, session_pb2

# The HTTP status of each gRPC status the orchestrator answers with.
HTTP_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.FAILED_PRECONDITION: 409,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}


def refusal_of(error: grpc.aio.AioRpcError) -> Refusal:
    """The orchestrator's answer as the status and reason the browser gets."""
    status = HTTP_STATUS.get(error.code(), 502)
    reason = error.details() or error.code().name
    if status == 502:
        reason = f"the orchestrator failed: {error.code().name}: {reason}"
    return Refusal(status, reason)


class Orchestrator:
    """One channel to the orchestrator; each call names whose token it carries."""

    def __init__(
        self,
        address: str,
        gateway_token: TokenSource,
        *,
        credentials: grpc.ChannelCredentials | None = None,
        max_message_mb: int = 32,
    ) -> None:
        self.channel = open_channel(address, credentials=credentials, max_message_mb=max_message_mb)
        self.stub = orchestrator_pb2_grpc.OrchestratorStub(self.channel)
        self._gateway_token = gateway_token

    async def close(self) -> None:
        await self.channel.close()

    async def call(self, caller: Caller, method: str, request: object) -> object:
        """`method` ("GetSession") with `request`, as `caller`; Refusal on an error."""
        rpc = getattr(self.stub, method)
        try:
            return await rpc(request, metadata=_bearer(caller.token))
        except grpc.aio.AioRpcError as error:
            raise refusal_of(error) from None

    async def get_session(self, caller: Caller, session_id: str) -> session_pb2.Session:
        reply = await self.call(caller, "GetSession", pb.GetSessionRequest(session_id=session_id))
        return reply.session  # type: ignore[attr-defined]

    def stream_events(
        self, caller: Caller, session_id: str, from_sequence: int, *, follow: bool = True
    ) -> AsyncIterator[pb.StreamEventsResponse]:
        """The session's events as the orchestrator streams them to `caller` (it ends the
        stream once the token expires or is revoked); Refusal on an error."""
        return self._events(caller.token, session_id, from_sequence, follow)

    def gateway_events(
        self, session_id: str, from_sequence: int
    ) -> AsyncIterator[pb.StreamEventsResponse]:
        """The session's events, followed with the gateway's own token: for what the
        gateway itself keeps in step (who holds the desktop), never shown to a person."""
        return self._events(self._gateway_token(), session_id, from_sequence, True)

    async def _events(
        self, token: str, session_id: str, from_sequence: int, follow: bool
    ) -> AsyncIterator[pb.StreamEventsResponse]:
        request = pb.StreamEventsRequest(
            session_id=session_id, from_sequence=from_sequence, follow=follow
        )
        call = self.stub.StreamEvents(request, metadata=_bearer(token))
        try:
            async for reply in call:
                yield reply
        except grpc.aio.AioRpcError as error:
            raise refusal_of(error) from None
        finally:
            call.cancel()

    async def desktop_access(self, session_id: str) -> pb.GetDesktopAccessResponse:
        """Where the session's VNC server is and its password, asked with the gateway's
        own token. Callers must have checked that the person sees the session."""
        request = pb.GetDesktopAccessRequest(session_id=session_id)
        try:
            return await self.stub.GetDesktopAccess(
                request, metadata=_bearer(self._gateway_token())
            )
        except grpc.aio.AioRpcError as error:
            raise refusal_of(error) from None


def _bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)
