"""The Orchestrator gRPC service: request checks, then the session manager.

Every request is checked against the size table in `request_limits` before anything else
happens, so a bad one changes nothing and its error names the field and the limit.
Sessions are returned as stored: a Session has no field for a sandbox's secrets (they are
in the record beside it), so nothing needs hiding here.

The caller is the identity its token proved (`current_identity`; roles were checked by the
auth interceptor against `access.ACCESS`). Each session-level call first checks that the
caller sees the session (`access`); the names recorded on what a person does (`author`,
`resolved_by`, `by`) are the caller's token subject, whatever the request says.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import TypeVar

import grpc
from google.protobuf.message import Message

from deskpilot.bus import Bus, BusUnavailable, check_session_id
from deskpilot.common.errors import FailedPrecondition, InvalidArgument, NotFound, Unavailable
from deskpilot.common.identity import Identity, current_identity
from deskpilot.orchestrator.access import (
    check_may_create,
    check_scope,
    check_sees,
    owner_of,
    sees,
)
from deskpilot.orchestrator.manager import SessionManager
from deskpilot.orchestrator.request_limits import (
    EVENT_HEADROOM_BYTES,
    RECORD_HEADROOM_BYTES,
    check_fits,
    check_sizes,
    nats_budget,
)
from deskpilot.v1 import orchestrator_pb2 as pb
from deskpilot.v1 import orchestrator_pb2_grpc, session_pb2

MAX_PAGE_SIZE = 1000
# A page stays under the 4 MiB a gRPC client accepts by default (records reach ~1 MiB).
MAX_PAGE_BYTES = 3 * 1024 * 1024
# Page tokens are offsets this service wrote: ASCII digits only (str.isdigit also takes
# other scripts' digits, which int() would then read).
_PAGE_TOKEN = re.compile(r"[0-9]{1,9}")
Context = grpc.aio.ServicerContext
RequestT = TypeVar("RequestT", bound=Message)


class OrchestratorServicer(orchestrator_pb2_grpc.OrchestratorServicer):
    """Thin: validates requests and hands them to the manager."""

    def __init__(self, manager: SessionManager, bus: Bus) -> None:
        self.manager = manager
        self.bus = bus

    async def CreateSession(
        self, request: pb.CreateSessionRequest, context: Context
    ) -> pb.CreateSessionResponse:
        check_sizes(request)
        identity = current_identity()
        check_may_create(identity)
        # The config is stored whole in the session record, one NATS message.
        self._check_fits("config", request.config.ByteSize(), RECORD_HEADROOM_BYTES, ["config"])
        session = await self.manager.create(request.config, request.request_id, owner_of(identity))
        return pb.CreateSessionResponse(session=session)

    async def GetSession(
        self, request: pb.GetSessionRequest, context: Context
    ) -> pb.GetSessionResponse:
        check_sizes(request)
        return pb.GetSessionResponse(session=await self._visible(request.session_id))

    async def ListSessions(
        self, request: pb.ListSessionsRequest, context: Context
    ) -> pb.ListSessionsResponse:
        check_sizes(request)
        size = request.page_size or 100
        if not 0 < size <= MAX_PAGE_SIZE:
            raise InvalidArgument(
                f"page_size must be 0..{MAX_PAGE_SIZE}, got {request.page_size}", field="page_size"
            )
        for index, status in enumerate(request.statuses):
            if status not in session_pb2.SessionStatus.values():
                raise InvalidArgument(
                    f"statuses[{index}] is {status}, not a SessionStatus",
                    field=f"statuses[{index}]",
                )
        start = _offset(request.page_token)
        identity = current_identity()
        sessions = [
            session
            for session in await self.manager.list(list(request.statuses))
            if sees(identity, session.id, session.owner)
        ]
        page: list[session_pb2.Session] = []
        used = 0
        for session in sessions[start : start + size]:
            used += session.ByteSize() + 8  # and the field's tag and length
            if page and used > MAX_PAGE_BYTES:
                break
            page.append(session)
        end = start + len(page)
        return pb.ListSessionsResponse(
            sessions=page, next_page_token=str(end) if end < len(sessions) else ""
        )

    async def SendMessage(
        self, request: pb.SendMessageRequest, context: Context
    ) -> pb.SendMessageResponse:
        check_sizes(request)
        if not request.text.strip():
            raise InvalidArgument("text is required", field="text")
        request = _as_caller(request, author=current_identity().name)
        session = await self._command(request.session_id, send_message=request)
        return pb.SendMessageResponse(session=session)

    async def StreamEvents(
        self, request: pb.StreamEventsRequest, context: Context
    ) -> AsyncIterator[pb.StreamEventsResponse]:
        check_sizes(request)
        session_id = _id(request.session_id)
        await self._require_history(session_id, current_identity())
        start = max(1, request.from_sequence)
        try:
            async for event in self.bus.replay_events(session_id, start, follow=request.follow):
                yield pb.StreamEventsResponse(event=event)
        except BusUnavailable as exc:
            raise Unavailable(f"{exc}; this replica may be shutting down") from None

    async def _require_history(self, session_id: str, identity: Identity) -> None:
        """NOT_FOUND unless the caller sees the session, or its history kept after deletion
        (whose owner is on its first event, SessionCreated)."""
        check_scope(identity, session_id)
        try:
            session = await self.manager.get(session_id)
        except NotFound:
            events = aclosing(self.bus.replay_events(session_id))
            async with events as replay:
                first = await anext(replay, None)
            if first is None:
                raise
            session = first.session_created.session
        check_sees(identity, session_id, session.owner)

    async def ResolveConfirmation(
        self, request: pb.ResolveConfirmationRequest, context: Context
    ) -> pb.ResolveConfirmationResponse:
        check_sizes(request)
        if not request.confirmation_id:
            raise InvalidArgument("confirmation_id is required", field="confirmation_id")
        request = _as_caller(request, resolved_by=current_identity().name)
        session = await self._command(request.session_id, resolve_confirmation=request)
        return pb.ResolveConfirmationResponse(session=session)

    async def Cancel(self, request: pb.CancelRequest, context: Context) -> pb.CancelResponse:
        check_sizes(request)
        return pb.CancelResponse(session=await self._command(request.session_id, cancel=request))

    async def TakeControl(
        self, request: pb.TakeControlRequest, context: Context
    ) -> pb.TakeControlResponse:
        check_sizes(request)
        request = _as_caller(request, by=current_identity().name)
        session = await self._command(request.session_id, take_control=request)
        return pb.TakeControlResponse(session=session)

    async def ReleaseControl(
        self, request: pb.ReleaseControlRequest, context: Context
    ) -> pb.ReleaseControlResponse:
        check_sizes(request)
        request = _as_caller(request, by=current_identity().name)
        session = await self._command(request.session_id, release_control=request)
        return pb.ReleaseControlResponse(session=session)

    async def DeleteSession(
        self, request: pb.DeleteSessionRequest, context: Context
    ) -> pb.DeleteSessionResponse:
        check_sizes(request)
        session = await self._visible(request.session_id)
        await self.manager.delete(session.id, request.keep_history)
        return pb.DeleteSessionResponse()

    async def GetDesktopAccess(
        self, request: pb.GetDesktopAccessRequest, context: Context
    ) -> pb.GetDesktopAccessResponse:
        check_sizes(request)
        session = await self._visible(request.session_id)
        record = await self.manager.store.get(session.id)
        endpoints = record.sandbox_endpoints
        if not endpoints.vnc_address or not record.sandbox_secrets.vnc_password:
            raise FailedPrecondition(f"session {session.id} has no desktop running now")
        return pb.GetDesktopAccessResponse(
            vnc_address=endpoints.vnc_address,
            vnc_password=record.sandbox_secrets.vnc_password,
            sandbox_id=endpoints.sandbox_id,
        )

    async def _visible(self, session_id: str) -> session_pb2.Session:
        """The session, if the caller sees it; NOT_FOUND (or PERMISSION_DENIED for a token
        scoped to another session) otherwise."""
        session_id = _id(session_id)
        identity = current_identity()
        check_scope(identity, session_id)
        session = await self.manager.get(session_id)
        check_sees(identity, session_id, session.owner)
        return session

    async def _command(self, session_id: str, **command: Message) -> session_pb2.Session:
        control = pb.ControlCommand(**command)
        # The command travels to the session's owner, and its text into an event: each is
        # one NATS message.
        [request] = command.values()
        texts = [f.name for f, _ in request.ListFields() if f.type == f.TYPE_STRING]
        texts = [name for name in texts if name != "session_id"]
        what = " and ".join(texts) or "the request"
        self._check_fits(what, control.ByteSize(), EVENT_HEADROOM_BYTES, texts)
        session = await self._visible(session_id)
        return await self.manager.command(session.id, control)

    def _check_fits(self, what: str, size: int, headroom: int, fields: list[str]) -> None:
        max_payload = self.bus.nc.max_payload
        check_fits(what, size, nats_budget(max_payload, headroom), max_payload, fields)


def _as_caller(request: RequestT, **names: str) -> RequestT:
    """A copy of `request` whose name fields say who really called (the token's subject)."""
    named = type(request)()
    named.CopyFrom(request)
    for field, name in names.items():
        setattr(named, field, name)
    return named


def _id(session_id: str) -> str:
    if not session_id:
        raise InvalidArgument("session_id is required", field="session_id")
    try:
        return check_session_id(session_id)
    except ValueError as exc:
        raise InvalidArgument(str(exc), field="session_id") from None


def _offset(token: str) -> int:
    if not token:
        return 0
    if not _PAGE_TOKEN.fullmatch(token):
        raise InvalidArgument("page_token is not one this service returned", field="page_token")
    return int(token)
