"""The common auth interceptor over real gRPC servers and channels: who may call, what a
refused caller is told, what a servicer learns of its caller, token files that change,
and mutual TLS."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from deskpilot.common.client_tokens import TokenFile, static_token
from deskpilot.common.config import ServiceSettings, load_settings
from deskpilot.common.errors import Unauthenticated
from deskpilot.common.grpc_client import open_channel
from deskpilot.common.grpc_server import GrpcServer, ServiceBinding
from deskpilot.common.identity import Role, current_identity
from deskpilot.common.revocation import revoke
from deskpilot.common.security import (
    SecuredServiceSettings,
    SecurityNotConfigured,
    channel_credentials,
)
from deskpilot.common.tokens import unverified_claims
from deskpilot.v1 import events_pb2, orchestrator_pb2, orchestrator_pb2_grpc, session_pb2
from tests.fixtures.auth import TENANT, USER, TestAuth, test_auth
from tests.helpers.certs import TestCA


class _Echo(orchestrator_pb2_grpc.OrchestratorServicer):
    """Answers with who called: GetSession's session id is the caller's subject, and
    StreamEvents' events name the caller's tenant and role."""

    async def GetSession(self, request, context):
        me = current_identity()
        return orchestrator_pb2.GetSessionResponse(session=session_pb2.Session(id=me.subject))

    async def StreamEvents(self, request, context) -> AsyncIterator:
        for part in ("tenant", "role"):
            await asyncio.sleep(0)  # the identity stays the caller's across the stream
            me = current_identity()
            value = me.tenant if part == "tenant" else str(me.role)
            yield orchestrator_pb2.StreamEventsResponse(event=events_pb2.Event(session_id=value))


# Users and viewers may get, only users may stream; every other method is closed.
ACCESS = {
    "GetSession": frozenset({Role.USER, Role.VIEWER}),
    "StreamEvents": frozenset({Role.USER}),
}


def _binding() -> ServiceBinding:
    return ServiceBinding(
        orchestrator_pb2.DESCRIPTOR.services_by_name["Orchestrator"],
        _Echo(),
        orchestrator_pb2_grpc.add_OrchestratorServicer_to_server,
        access=ACCESS,
    )


@pytest.fixture
async def server() -> AsyncIterator[GrpcServer]:
    settings = load_settings(ServiceSettings, None, port=0, grace_seconds=0.5)
    server = GrpcServer(settings, [_binding()], authenticator=test_auth().authenticator())
    await server.start()
    yield server
    await server.stop(0)


async def _get(address: str, token: str | None, **options) -> str:
    async with open_channel(
        address, token=static_token(token) if token is not None else None, retry=False, **options
    ) as channel:
        stub = orchestrator_pb2_grpc.OrchestratorStub(channel)
        reply = await stub.GetSession(orchestrator_pb2.GetSessionRequest(), timeout=10)
        return reply.session.id


async def _refused(address: str, token: str | None) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await _get(address, token)
    return info.value


async def test_a_valid_token_reaches_the_servicer_as_the_callers_identity(server) -> None:
    assert await _get(server.address, test_auth().mint(subject="ana")) == "ana"
    async with test_auth().channel(server.address) as channel:
        stub = orchestrator_pb2_grpc.OrchestratorStub(channel)
        replies = stub.StreamEvents(orchestrator_pb2.StreamEventsRequest())
        assert [r.event.session_id async for r in replies] == [TENANT, "user"]


async def test_a_call_without_a_token_is_unauthenticated_and_says_how_to_send_one(
    server,
) -> None:
    error = await _refused(server.address, None)
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error.details() == (
        "no credentials: send the metadata `authorization: Bearer <token>` "
        "(`deskpilot token mint` makes a token)"
    )
    async with open_channel(server.address, retry=False) as channel:  # streams too
        stub = orchestrator_pb2_grpc.OrchestratorStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            [r async for r in stub.StreamEvents(orchestrator_pb2.StreamEventsRequest())]
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_health_and_reflection_need_no_token(server) -> None:
    async with open_channel(server.address, retry=False) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        reply = await health.Check(health_pb2.HealthCheckRequest(service=""))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        replies = [r async for r in stub.ServerReflectionInfo(iter([request]))]
        assert replies[0].list_services_response.service


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Basic dXNlcjpwYXNz", "the authorization metadata must be `Bearer <token>`"),
        ("Bearer", "the authorization metadata must be `Bearer <token>`"),
        ("Bearer not-a-jwt", "the token is malformed: Not enough segments"),
    ],
)
async def test_a_malformed_authorization_is_unauthenticated_saying_what_is_wrong(
    server, value: str, expected: str
) -> None:
    async with open_channel(server.address, retry=False) as channel:
        stub = orchestrator_pb2_grpc.OrchestratorStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.GetSession(
                orchestrator_pb2.GetSessionRequest(), metadata=(("authorization", value),)
            )
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert info.value.details() == expected


async def test_an_expired_token_is_unauthenticated(server) -> None:
    expired = test_auth().mint(ttl_seconds=60, now=time.time() - 3600)
    error = await _refused(server.address, expired)
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error.details().startswith("the token expired at ")


async def test_a_token_signed_with_another_key_is_unauthenticated(tmp_path: Path) -> None:
    other = TestAuth.create(tmp_path)
    settings = load_settings(ServiceSettings, None, port=0, grace_seconds=0.5)
    server = GrpcServer(settings, [_binding()], authenticator=test_auth().authenticator())
    await server.start()
    try:
        error = await _refused(server.address, other.mint())
    finally:
        await server.stop(0)
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "signature does not verify" in error.details()


async def test_a_token_revoked_while_the_server_runs_is_refused_from_then_on(server) -> None:
    token = test_auth().mint()
    assert await _get(server.address, token) == USER
    token_id = unverified_claims(token)["jti"]
    revoke(test_auth().revoked_file, token_id, "left the team")
    error = await _refused(server.address, token)
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error.details() == f"the token {token_id} was revoked"
    assert await _get(server.address, test_auth().mint()) == USER  # others still work


async def test_a_role_the_method_does_not_allow_is_permission_denied(server) -> None:
    viewer = test_auth().mint(Role.VIEWER, subject="vic")
    assert await _get(server.address, viewer) == "vic"  # viewers may get
    async with test_auth().channel(server.address, viewer, retry=False) as channel:
        stub = orchestrator_pb2_grpc.OrchestratorStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            [r async for r in stub.StreamEvents(orchestrator_pb2.StreamEventsRequest())]
        assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert info.value.details() == (
            f"viewer vic of tenant {TENANT} may not call Orchestrator/StreamEvents"
        )
        # A method the binding does not name is closed to everyone.
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.Cancel(orchestrator_pb2.CancelRequest())
        assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
    admin = test_auth().mint(Role.ADMIN)
    assert (await _refused(server.address, admin)).code() == grpc.StatusCode.PERMISSION_DENIED


def test_a_binding_with_access_refuses_a_server_that_checks_no_tokens() -> None:
    settings = load_settings(ServiceSettings, None, port=0)
    with pytest.raises(SecurityNotConfigured, match="must authenticate callers"):
        GrpcServer(settings, [_binding()])


def test_a_secured_service_without_its_key_refuses_to_be_built() -> None:
    settings = load_settings(SecuredServiceSettings, None, port=0)
    with pytest.raises(SecurityNotConfigured, match="no key to verify callers' tokens"):
        GrpcServer(settings, [_binding()])


async def test_a_client_reads_its_token_file_again_when_it_changes(server, tmp_path) -> None:
    path = tmp_path / "token"
    path.write_text(test_auth().mint(subject="first") + "\n")
    token = TokenFile(path)
    async with open_channel(server.address, token=token, retry=False) as channel:
        stub = orchestrator_pb2_grpc.OrchestratorStub(channel)
        first = await stub.GetSession(orchestrator_pb2.GetSessionRequest())
        path.write_text(test_auth().mint(subject="second-one"))  # rotated
        second = await stub.GetSession(orchestrator_pb2.GetSessionRequest())
    assert (first.session.id, second.session.id) == ("first", "second-one")


async def test_mutual_tls_admits_only_clients_with_a_certificate_of_its_ca(tmp_path) -> None:
    ca = TestCA(tmp_path)
    served, client = ca.issue("safety"), ca.issue("orchestrator")
    tls = {"cert_file": served.cert_file, "key_file": served.key_file, "ca_file": ca.ca_file}
    settings = load_settings(
        SecuredServiceSettings,
        None,
        port=0,
        grace_seconds=0.5,
        auth=test_auth().auth_settings(),
        tls=tls,
    )
    server = GrpcServer(settings, [_binding()])
    await server.start()
    try:
        ours = {"cert_file": client.cert_file, "key_file": client.key_file, "ca_file": ca.ca_file}
        mutual = channel_credentials(load_settings(SecuredServiceSettings, None, tls=ours).tls)
        assert await _get(server.address, test_auth().mint(), credentials=mutual) == USER
        # Without a client certificate the handshake fails; in plaintext too.
        only_ca = {"ca_file": ca.ca_file}
        one_way = channel_credentials(load_settings(SecuredServiceSettings, None, tls=only_ca).tls)
        for credentials in (one_way, None):
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await _get(server.address, test_auth().mint(), credentials=credentials)
            assert info.value.code() == grpc.StatusCode.UNAVAILABLE
        # TLS does not replace the token.
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await _get(server.address, None, credentials=mutual)
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    finally:
        await server.stop(0)


class _Paced(orchestrator_pb2_grpc.OrchestratorServicer):
    """A stream that sends one event, waits for `go`, then sends another."""

    def __init__(self) -> None:
        self.go = asyncio.Event()

    async def StreamEvents(self, request, context) -> AsyncIterator:
        yield orchestrator_pb2.StreamEventsResponse(event=events_pb2.Event(sequence=1))
        await self.go.wait()
        yield orchestrator_pb2.StreamEventsResponse(event=events_pb2.Event(sequence=2))


async def test_a_stream_ends_once_its_token_is_revoked_before_sending_more() -> None:
    paced = _Paced()
    binding = ServiceBinding(
        orchestrator_pb2.DESCRIPTOR.services_by_name["Orchestrator"],
        paced,
        orchestrator_pb2_grpc.add_OrchestratorServicer_to_server,
        access=ACCESS,
    )
    settings = load_settings(ServiceSettings, None, port=0, grace_seconds=0.5)
    server = GrpcServer(settings, [binding], authenticator=test_auth().authenticator())
    await server.start()
    token = test_auth().mint()
    try:
        async with test_auth().channel(server.address, token, retry=False) as channel:
            stub = orchestrator_pb2_grpc.OrchestratorStub(channel)
            stream = stub.StreamEvents(orchestrator_pb2.StreamEventsRequest())
            first = await stream.read()
            assert first.event.sequence == 1
            revoke(test_auth().revoked_file, unverified_claims(token)["jti"])
            paced.go.set()
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await stream.read()
            assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
            assert info.value.details().endswith("was revoked")
    finally:
        await server.stop(0)


def test_a_verified_identity_no_longer_holds_once_expired() -> None:
    verifier = test_auth().authenticator().verifier
    identity = verifier.verify(test_auth().mint(ttl_seconds=60))
    verifier.recheck(identity, now=identity.expires_at - 1)  # still fine
    with pytest.raises(Unauthenticated, match="the token expired at "):
        verifier.recheck(identity, now=identity.expires_at + 3600)
