"""The shared gRPC bootstrap against real servers and channels: health, reflection,
status mapping, metrics, and graceful stop with an RPC in flight."""

from __future__ import annotations

import asyncio
import signal
import sys
import urllib.request
from collections.abc import AsyncIterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status

from deskpilot.cli.settings import CliSettings
from deskpilot.cli.terminal import explain_error
from deskpilot.common import errors
from deskpilot.common.config import ServiceSettings, load_settings
from deskpilot.common.grpc_client import open_channel
from deskpilot.common.grpc_server import GrpcServer, PortUnavailable, ServiceBinding
from deskpilot.common.metrics import serve_metrics
from deskpilot.common.net import free_port
from deskpilot.v1 import safety_pb2, safety_pb2_grpc, shell_pb2, shell_pb2_grpc
from tests.fixtures.grpc import running_server


async def _echo(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    failures = {
        b"invalid": errors.InvalidArgument("coordinate (2000, 5) is outside 1280x800"),
        b"missing": errors.NotFound("session s-1 not found"),
        b"state": errors.FailedPrecondition("session is finished"),
        b"crash": KeyError("secret-internal-detail"),
        b"later": errors.Unavailable("session s-1 is changing hands: try again", retry_after=1.5),
        b"down": errors.Unavailable("the gate is down"),
        b"field": errors.InvalidArgument("text is required", field="text"),
        b"fields": errors.InvalidArgument(
            "a: too long; b: not a number",
            violations=[
                errors.FieldViolation("a", "too long"),
                errors.FieldViolation("b", "not a number"),
            ],
        ),
    }
    if request in failures:
        raise failures[request]
    return b"echo:" + request


async def _count(request: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
    for i in range(int(request.decode())):
        yield str(i).encode()
    raise errors.ResourceExhausted("stream limit reached")


ECHO = grpc.method_handlers_generic_handler(
    "test.Echo",
    {
        "Echo": grpc.unary_unary_rpc_method_handler(_echo),
        "Count": grpc.unary_stream_rpc_method_handler(_count),
    },
)


@pytest.fixture
async def echo() -> AsyncIterator[tuple[GrpcServer, grpc.aio.Channel]]:
    async with running_server(generic_handlers=[ECHO], extra_service_names=["test.Echo"]) as pair:
        yield pair


async def test_health_reports_serving_for_the_server_and_each_service(echo) -> None:
    _server, channel = echo
    stub = health_pb2_grpc.HealthStub(channel)
    for service in ("", "test.Echo"):
        reply = await stub.Check(health_pb2.HealthCheckRequest(service=service))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.Check(health_pb2.HealthCheckRequest(service="no.Such"))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND


async def _health_until(stub: health_pb2_grpc.HealthStub, service: str, status: int) -> None:
    async with asyncio.timeout(30):
        while (await stub.Check(health_pb2.HealthCheckRequest(service=service))).status != status:
            await asyncio.sleep(0.05)


async def test_health_follows_a_services_readiness_check() -> None:
    """A service that needs something (NATS, say) is SERVING only while its check passes,
    and so is the server as a whole; another service without a check stays SERVING."""
    why_not: list[str] = ["the database is away"]

    async def ready() -> str | None:
        return why_not[0] or None

    shell = ServiceBinding(
        shell_pb2.DESCRIPTOR.services_by_name["Shell"],
        shell_pb2_grpc.ShellServicer(),
        shell_pb2_grpc.add_ShellServicer_to_server,
        ready=ready,
    )
    safety = ServiceBinding(
        safety_pb2.DESCRIPTOR.services_by_name["Safety"],
        safety_pb2_grpc.SafetyServicer(),
        safety_pb2_grpc.add_SafetyServicer_to_server,
    )
    serving, not_serving = (
        health_pb2.HealthCheckResponse.SERVING,
        health_pb2.HealthCheckResponse.NOT_SERVING,
    )
    async with running_server([shell, safety]) as (_server, channel):
        stub = health_pb2_grpc.HealthStub(channel)
        for service, status in [("", not_serving), ("deskpilot.v1.Shell", not_serving)]:
            assert (
                await stub.Check(health_pb2.HealthCheckRequest(service=service))
            ).status == status
        reply = await stub.Check(health_pb2.HealthCheckRequest(service="deskpilot.v1.Safety"))
        assert reply.status == serving

        why_not[0] = ""
        await _health_until(stub, "", serving)
        await _health_until(stub, "deskpilot.v1.Shell", serving)

        why_not[0] = "the database is away again"
        await _health_until(stub, "", not_serving)
        await _health_until(stub, "deskpilot.v1.Shell", not_serving)


async def test_reflection_lists_the_services_over_a_real_channel(echo) -> None:
    _server, channel = echo
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    replies = [reply async for reply in stub.ServerReflectionInfo(iter([request]))]
    names = {service.name for service in replies[0].list_services_response.service}
    assert {"test.Echo", "grpc.health.v1.Health"} <= names


async def test_reflection_v1_answers_as_v1alpha_does(echo) -> None:
    """grpcurl and newer clients ask grpc.reflection.v1 first; its messages are v1alpha's
    under another package, so the v1alpha classes encode them byte for byte."""
    _server, channel = echo
    call = channel.stream_stream(
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
    )
    requests = [
        reflection_pb2.ServerReflectionRequest(list_services=""),
        reflection_pb2.ServerReflectionRequest(
            file_containing_symbol="grpc.reflection.v1.ServerReflection"
        ),
    ]
    listed, described = [reply async for reply in call(iter(requests))]
    names = {service.name for service in listed.list_services_response.service}
    assert {"test.Echo", "grpc.reflection.v1.ServerReflection"} <= names
    assert "grpc.reflection.v1alpha.ServerReflection" in names
    files = described.file_descriptor_response.file_descriptor_proto
    assert files, described
    assert any(b"grpc.reflection.v1" in blob for blob in files)


async def test_a_second_server_on_a_busy_port_fails_naming_the_port(echo) -> None:
    first, _channel = echo
    settings = load_settings(ServiceSettings, None, port=first.port, grace_seconds=1.0)
    second = GrpcServer(settings)
    busy = rf"cannot listen on 127\.0\.0\.1:{first.port}: port {first.port} is in use"
    try:
        with pytest.raises(PortUnavailable, match=busy):
            await second.start()
    finally:
        await second.stop(0)


async def test_service_errors_become_their_status_codes(echo) -> None:
    _server, channel = echo
    call = channel.unary_unary("/test.Echo/Echo")
    assert await call(b"hi") == b"echo:hi"
    expected = {
        b"invalid": (grpc.StatusCode.INVALID_ARGUMENT, "coordinate (2000, 5) is outside 1280x800"),
        b"missing": (grpc.StatusCode.NOT_FOUND, "session s-1 not found"),
        b"state": (grpc.StatusCode.FAILED_PRECONDITION, "session is finished"),
        b"crash": (grpc.StatusCode.INTERNAL, "internal error (KeyError)"),
    }
    for request, (code, details) in expected.items():
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await call(request)
        assert (info.value.code(), info.value.details()) == (code, details)
    assert "secret" not in info.value.details()


async def test_invalid_arguments_carry_their_fields_in_the_status_details(echo) -> None:
    """google.rpc.BadRequest in the status details, read back with grpcio-status, beside
    the same code and message as before; an error naming no field has no details."""
    _server, channel = echo
    call = channel.unary_unary("/test.Echo/Echo")
    expected = {
        b"field": [errors.FieldViolation("text", "text is required")],
        b"fields": [
            errors.FieldViolation("a", "too long"),
            errors.FieldViolation("b", "not a number"),
        ],
        b"invalid": [],
    }
    for request, violations in expected.items():
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await call(request)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert errors.field_violations(info.value) == violations
    status = rpc_status.from_call(info.value)
    assert status is None  # b"invalid" named no field


async def test_a_retry_later_carries_its_delay_and_the_cli_tells_it_from_a_lost_server(
    echo,
) -> None:
    """google.rpc.RetryInfo: the server answered and says when to try again. The CLI shows
    the server's words for it, and "cannot reach" only where nothing answered."""
    server, _ = echo
    settings = load_settings(CliSettings, None, orchestrator=server.address)
    errors_seen = {}
    async with open_channel(server.address, retry=False) as channel:
        for request in (b"later", b"down"):
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await channel.unary_unary("/test.Echo/Echo")(request)
            assert info.value.code() == grpc.StatusCode.UNAVAILABLE
            errors_seen[request] = info.value
    port = free_port()  # nothing listens there
    async with open_channel(f"127.0.0.1:{port}", retry=False, default_timeout=5) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await channel.unary_unary("/test.Echo/Echo")(b"hi")
        errors_seen[b"nobody"] = info.value
    assert errors.retry_delay(errors_seen[b"later"]) == 1.5
    assert errors.retry_delay(errors_seen[b"down"]) is None
    assert errors.retry_delay(errors_seen[b"nobody"]) is None
    assert explain_error(errors_seen[b"later"], settings) == (
        "session s-1 is changing hands: try again (the orchestrator says to try again in 1.5 s)"
    )
    for request in (b"down", b"nobody"):
        assert explain_error(errors_seen[request], settings).startswith(
            f"cannot reach the orchestrator at {server.address}"
        )


async def test_streams_deliver_items_then_the_mapped_error(echo) -> None:
    _server, channel = echo
    items = []
    with pytest.raises(grpc.aio.AioRpcError) as info:
        async for item in channel.unary_stream("/test.Echo/Count")(b"3"):
            items.append(item)
    assert items == [b"0", b"1", b"2"]
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


async def test_metrics_endpoint_counts_rpcs_by_status(echo) -> None:
    _server, channel = echo
    call = channel.unary_unary("/test.Echo/Echo")
    await call(b"x")
    with pytest.raises(grpc.aio.AioRpcError):
        await call(b"invalid")
    port = serve_metrics("127.0.0.1", 0)
    body = await asyncio.to_thread(
        lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read().decode()
    )
    assert 'method="/test.Echo/Echo"' in body
    assert 'code="INVALID_ARGUMENT"' in body
    assert "deskpilot_grpc_server_handling_seconds_bucket" in body


async def test_sigterm_lets_the_in_flight_rpc_finish_and_refuses_new_ones() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.helpers.slow_service", "--grace-seconds", "20",
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        port_line = await process.stdout.readline()
        address = f"127.0.0.1:{int(port_line.split()[1])}"
        async with open_channel(address, retry=False) as channel:
            sleep = channel.unary_unary("/test.Slow/Sleep")
            in_flight = asyncio.ensure_future(sleep(b"1.5"))
            assert (await process.stdout.readline()).strip() == b"started"
            process.send_signal(signal.SIGTERM)
            assert await in_flight == b"done"
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await sleep(b"0")
            assert info.value.code() == grpc.StatusCode.UNAVAILABLE
        assert await asyncio.wait_for(process.wait(), 20) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
