"""gRPC client helpers: channels with deadlines, retry on UNAVAILABLE, keepalive.

Retries use gRPC's own retry policy (a service config), so they back off exponentially,
never replay a call the server has started answering, and need no wrapper code.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from deskpilot.common.client_tokens import TokenSource, bearer_interceptors
from deskpilot.common.grpc_server import channel_options

DEFAULT_TIMEOUT_SECONDS = 30.0


def retry_service_config(
    *,
    max_attempts: int = 5,
    initial_backoff: float = 0.1,
    max_backoff: float = 2.0,
    backoff_multiplier: float = 2.0,
    codes: Sequence[str] = ("UNAVAILABLE",),
) -> str:
    """A gRPC service config that retries every method on `codes` with backoff."""
    return json.dumps(
        {
            "methodConfig": [
                {
                    "name": [{}],  # every service and method
                    "retryPolicy": {
                        "maxAttempts": max_attempts,
                        "initialBackoff": f"{initial_backoff}s",
                        "maxBackoff": f"{max_backoff}s",
                        "backoffMultiplier": backoff_multiplier,
                        "retryableStatusCodes": list(codes),
                    },
                }
            ]
        }
    )


class _DefaultDeadline(grpc.aio.UnaryUnaryClientInterceptor, grpc.aio.StreamUnaryClientInterceptor):
    """Gives every unary-response call a deadline unless the caller set one.

    Streaming responses are left alone: a followed event stream is meant to stay open.
    """

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout

    def _with_deadline(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        if details.timeout is not None:
            return details
        return grpc.aio.ClientCallDetails(
            details.method, self.timeout, details.metadata, details.credentials,
            details.wait_for_ready,
        )  # fmt: skip

    async def intercept_unary_unary(
        self, continuation: Callable[..., Any], client_call_details: Any, request: Any
    ) -> Any:
        return await continuation(self._with_deadline(client_call_details), request)

    async def intercept_stream_unary(
        self, continuation: Callable[..., Any], client_call_details: Any, request_iterator: Any
    ) -> Any:
        return await continuation(self._with_deadline(client_call_details), request_iterator)


def open_channel(
    address: str,
    *,
    token: TokenSource | None = None,
    credentials: grpc.ChannelCredentials | None = None,
    default_timeout: float | None = DEFAULT_TIMEOUT_SECONDS,
    retry: bool = True,
    max_message_mb: int = 32,
    keepalive_seconds: float = 30.0,
) -> grpc.aio.Channel:
    """An aio channel to `address` ("host:port"): plaintext (loopback, or inside a cluster
    network) unless `credentials` (TLS, see `security.channel_credentials`) are given.

    Every call presents `token` (`client_tokens.TokenFile` reads one from a file) as
    `authorization: Bearer` metadata. Unary calls get `default_timeout` unless they pass
    their own; UNAVAILABLE is retried with exponential backoff; keepalive pings notice a
    dead peer within ~40 s.
    """
    options = [
        *channel_options(max_message_mb),
        ("grpc.keepalive_time_ms", int(keepalive_seconds * 1000)),
        ("grpc.keepalive_timeout_ms", 10_000),
        ("grpc.enable_retries", 1 if retry else 0),
    ]
    if retry:
        options.append(("grpc.service_config", retry_service_config()))
    interceptors: list[grpc.aio.ClientInterceptor] = []
    if default_timeout:
        interceptors.append(_DefaultDeadline(default_timeout))
    if token is not None:
        interceptors += bearer_interceptors(token)
    if credentials is not None:
        return grpc.aio.secure_channel(
            address, credentials, options=options, interceptors=interceptors
        )
    return grpc.aio.insecure_channel(address, options=options, interceptors=interceptors)


async def wait_until_serving(
    address: str,
    *,
    service: str = "",
    timeout: float = 10.0,
    credentials: grpc.ChannelCredentials | None = None,
) -> None:
    """Poll the health service at `address` (over TLS with `credentials`; health needs no
    token) until `service` is SERVING.

    Raises TimeoutError naming the address and the last status or error seen.
    """
    deadline = time.monotonic() + timeout
    last = "no answer"
    async with open_channel(
        address, credentials=credentials, retry=False, default_timeout=None
    ) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            try:
                reply = await stub.Check(
                    health_pb2.HealthCheckRequest(service=service), timeout=1.0
                )
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
                last = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
            except grpc.aio.AioRpcError as exc:
                last = f"{exc.code().name}: {exc.details()}"
            await asyncio.sleep(0.05)
    raise TimeoutError(f"{address} not SERVING after {timeout:.0f} s (last: {last})")
