"""gRPC server bootstrap on `grpc.aio`, shared by every service.

A `GrpcServer` always serves the standard health-checking service and server reflection
(v1 and v1alpha, so grpcurl, grpcui and Kubernetes gRPC probes work without .proto files),
runs every RPC through an interceptor that logs, times and maps exceptions to status
codes and, on a secured service, through one that checks the caller's token (`grpc_auth`;
health and reflection stay open), and stops gracefully: on SIGTERM it reports
NOT_SERVING, refuses new RPCs and lets in-flight ones finish within the grace period.
Its port is its own: a second server on a busy port fails (`PortUnavailable`) instead of
sharing it through SO_REUSEPORT.

Health is readiness: a service whose binding has a `ready` check (e.g. NATS answers) is
SERVING only while the check passes, and the server as a whole ("") only while every
service is; the checks run every `READINESS_INTERVAL_SECONDS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import signal
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.descriptor import ServiceDescriptor
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from deskpilot.common.config import ServiceSettings
from deskpilot.common.errors import ServiceError, rich_status
from deskpilot.common.grpc_auth import Access, Authenticator, AuthInterceptor
from deskpilot.common.grpc_handlers import (
    UNGUARDED_METHODS,
    Behavior,
    stream_through,
    wrap_handler,
)
from deskpilot.common.metrics import GRPC_HANDLED, GRPC_LATENCY
from deskpilot.common.reflection import enable_reflection
from deskpilot.common.security import (
    SecuredServiceSettings,
    SecurityNotConfigured,
    bearer_tokens,
    server_credentials,
)
from deskpilot.common.signals import STOP_SIGNALS, on_stop_signals

log = logging.getLogger("deskpilot.grpc")

# How often readiness checks run, and how long one may take before it counts as failed.
READINESS_INTERVAL_SECONDS = 1.0
READINESS_TIMEOUT_SECONDS = 2.0
# A check of what a service needs to answer: None when ready, else why not.
Readiness = Callable[[], Awaitable[str | None]]


def channel_options(max_message_mb: int) -> list[tuple[str, Any]]:
    """Message limits and keepalive settings both ends must agree on."""
    limit = max_message_mb * 1024 * 1024
    return [
        ("grpc.max_send_message_length", limit),
        ("grpc.max_receive_message_length", limit),
        # Clients ping every 30 s to notice dead peers; allow it without active calls.
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
        ("grpc.http2.max_pings_without_data", 0),
    ]


# gRPC turns SO_REUSEPORT on by default, so a second server on the same port would bind
# without an error and take part of the first one's connections.
_SERVER_OPTIONS = [("grpc.so_reuseport", 0)]


class PortUnavailable(OSError):
    """The server cannot listen on its address (the port is taken, or the host is not ours)."""


@dataclass(frozen=True)
class ServiceBinding:
    """A servicer, the generated function that registers it, and its descriptor."""

    descriptor: ServiceDescriptor
    servicer: object
    add_to_server: Callable[[object, grpc.aio.Server], None]
    ready: Readiness | None = None  # None: ready whenever the server runs
    # Which roles may call each method; the server must then authenticate its callers.
    # None: no roles to check (any caller the server admits).
    access: Access | None = None


class GrpcServer:
    """One service process's gRPC server.

    With `SecuredServiceSettings` it authenticates every caller with the settings' key
    and serves TLS when they name a certificate; `authenticator` and `credentials` set
    either explicitly. A binding with `access` needs an authenticator: without one the
    server refuses to be built (SecurityNotConfigured), so no secured service runs open.
    """

    def __init__(
        self,
        settings: ServiceSettings,
        bindings: Iterable[ServiceBinding] = (),
        *,
        generic_handlers: Iterable[grpc.GenericRpcHandler] = (),
        extra_service_names: Iterable[str] = (),
        authenticator: Authenticator | None = None,
        credentials: grpc.ServerCredentials | None = None,
        interceptors: Iterable[grpc.aio.ServerInterceptor] = (),
    ) -> None:
        """`interceptors` run inside the observing and token-checking ones, so what they
        refuse is logged."""
        self.settings = settings
        self.bindings = list(bindings)
        self.service_names = [b.descriptor.full_name for b in self.bindings]
        self.service_names += list(extra_service_names)
        self.health = health.aio.HealthServicer()
        self.port = 0
        if isinstance(settings, SecuredServiceSettings):
            authenticator = authenticator or bearer_tokens(settings.auth, settings.service_name)
            credentials = credentials or server_credentials(settings.tls)
        self._credentials = credentials
        chain: list[grpc.aio.ServerInterceptor] = [ObservingInterceptor(settings.service_name)]
        if authenticator is not None:
            chain.append(AuthInterceptor(authenticator, _access_of(self.bindings)))
        elif any(b.access is not None for b in self.bindings):
            names = ", ".join(b.descriptor.full_name for b in self.bindings if b.access)
            raise SecurityNotConfigured(f"{names} must authenticate callers: no authenticator")
        self._server = grpc.aio.server(
            interceptors=[*chain, *interceptors],
            options=[*channel_options(settings.max_message_mb), *_SERVER_OPTIONS],
        )
        for binding in self.bindings:
            binding.add_to_server(binding.servicer, self._server)
        if generic_handlers:
            self._server.add_generic_rpc_handlers(tuple(generic_handlers))
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self._server)
        enable_reflection(self._server, [*self.service_names, health.SERVICE_NAME])
        self._stopping: asyncio.Task[None] | None = None
        self._readiness: asyncio.Task[None] | None = None
        # Why each service is not ready ("" when it is), as last checked.
        self._not_ready: dict[str, str] = {name: "" for name in self.service_names}

    @property
    def address(self) -> str:
        """host:port clients can dial."""
        host = self.settings.host
        if host in ("0.0.0.0", "::", "[::]"):
            host = "127.0.0.1"
        return f"{host}:{self.port}"

    async def start(self) -> int:
        """Bind, start serving and report SERVING; returns the bound port.

        Raises PortUnavailable naming the address and why when it cannot listen there."""
        host, port = self.settings.host, self.settings.port
        bind = f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"
        try:
            if self._credentials is None:
                self.port = self._server.add_insecure_port(bind)
            else:
                self.port = self._server.add_secure_port(bind, self._credentials)
        except RuntimeError:  # grpc says only "Failed to bind"
            self.port = 0
        if self.port == 0:
            raise PortUnavailable(f"cannot listen on {bind}: {_bind_problem(host, port)}")
        await self._server.start()
        checks = {b.descriptor.full_name: b.ready for b in self.bindings if b.ready is not None}
        if checks:
            await self._check_readiness(checks)
            self._readiness = asyncio.create_task(self._watch_readiness(checks))
        else:
            await self._set_all(health_pb2.HealthCheckResponse.SERVING)
        log.info(
            "serving %s on %s",
            ", ".join(self.service_names) or "(health only)",
            self.address,
            extra={"port": self.port},
        )
        return self.port

    async def stop(self, grace: float | None = None) -> None:
        """Report NOT_SERVING, refuse new RPCs, let in-flight ones finish within `grace`."""
        if self._stopping is None:
            self._stopping = asyncio.ensure_future(self._stop(grace))
        await asyncio.shield(self._stopping)

    async def _stop(self, grace: float | None) -> None:
        grace = self.settings.grace_seconds if grace is None else grace
        log.info("stopping; in-flight RPCs have %.1f s to finish", grace)
        if self._readiness is not None:
            self._readiness.cancel()  # nothing may report SERVING any more
            await asyncio.gather(self._readiness, return_exceptions=True)
        await self._set_all(health_pb2.HealthCheckResponse.NOT_SERVING)
        await self._server.stop(grace)
        log.info("stopped")

    async def wait_for_termination(self) -> None:
        await self._server.wait_for_termination()

    def stop_on_signals(self, signals: Iterable[signal.Signals] = STOP_SIGNALS) -> None:
        """Stop gracefully when the process receives one of `signals`."""
        on_stop_signals(self._on_signal, signals)

    def _on_signal(self, sig: signal.Signals) -> None:
        if self._stopping is None:
            self._stopping = asyncio.ensure_future(self._stop(None))

    async def _watch_readiness(self, checks: dict[str, Readiness]) -> None:
        while True:
            await asyncio.sleep(READINESS_INTERVAL_SECONDS)
            await self._check_readiness(checks)

    async def _check_readiness(self, checks: dict[str, Readiness]) -> None:
        """Run every check; set each service's health and the server's (all of them)."""
        serving, not_serving = (
            health_pb2.HealthCheckResponse.SERVING,
            health_pb2.HealthCheckResponse.NOT_SERVING,
        )
        for name, check in checks.items():
            reason = await _run_check(check)
            if reason != self._not_ready[name]:
                if reason:
                    log.warning("%s is not ready: %s", name, reason, extra={"service": name})
                else:
                    log.info("%s is ready again", name, extra={"service": name})
            self._not_ready[name] = reason
        for name in self.service_names:
            await self.health.set(name, not_serving if self._not_ready[name] else serving)
        ready = not any(self._not_ready.values())
        await self.health.set("", serving if ready else not_serving)

    async def _set_all(self, status: int) -> None:
        await self.health.set("", status)
        for name in self.service_names:
            await self.health.set(name, status)


def _access_of(bindings: list[ServiceBinding]) -> dict[str, Access]:
    """Each binding's access by service name; every method it names must exist."""
    found = {}
    for binding in bindings:
        if binding.access is None:
            continue
        unknown = set(binding.access) - set(binding.descriptor.methods_by_name)
        if unknown:
            raise ValueError(f"{binding.descriptor.full_name} has no method {sorted(unknown)}")
        found[binding.descriptor.full_name] = binding.access
    return found


async def _run_check(check: Readiness) -> str:
    """Why the service is not ready ("" when it is); a check that fails or hangs counts."""
    try:
        async with asyncio.timeout(READINESS_TIMEOUT_SECONDS):
            return await check() or ""
    except TimeoutError:
        return f"its readiness check did not answer within {READINESS_TIMEOUT_SECONDS:g} s"
    except Exception as exc:
        log.debug("readiness check failed", exc_info=True)
        return f"its readiness check failed: {exc!r}"


async def serve_forever(server: GrpcServer) -> None:
    """Start `server`, stop it on SIGTERM/SIGINT, return once it has stopped."""
    await server.start()
    server.stop_on_signals()
    await server.wait_for_termination()


def _bind_problem(host: str, port: int) -> str:
    """Why `host:port` cannot be bound, in the operating system's words."""
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.bind((host, port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return f"port {port} is in use (another server, or another copy of this one?)"
        return exc.strerror or str(exc)
    return "gRPC could not bind it"


class ObservingInterceptor(grpc.aio.ServerInterceptor):
    """Logs, times and counts every RPC, and maps exceptions to status codes.

    `ServiceError` subclasses carry their own code and message; any other exception is
    logged with its traceback and reported as INTERNAL without leaking details.
    """

    def __init__(self, service: str) -> None:
        self.service = service

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        return wrap_handler(
            handler,
            lambda behavior: self._wrap_unary(method, behavior),
            lambda behavior: self._wrap_stream(method, behavior),
        )

    def _wrap_unary(self, method: str, behavior: Behavior) -> Behavior:
        async def observed(request: Any, context: grpc.aio.ServicerContext) -> Any:
            async with self._observe(method, context):
                return await behavior(request, context)

        return observed

    def _wrap_stream(self, method: str, behavior: Behavior) -> Callable[..., AsyncIterator[Any]]:
        async def observed(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            async with self._observe(method, context):
                async for item in stream_through(behavior, request, context):
                    yield item

        return observed

    @contextlib.asynccontextmanager
    async def _observe(self, method: str, context: grpc.aio.ServicerContext) -> AsyncIterator[None]:
        """Time the RPC, turn exceptions into a status, record and log the outcome."""
        started = time.perf_counter()
        cancelled = False
        try:
            yield
        except asyncio.CancelledError:
            cancelled = True
            raise
        except grpc.aio.AbortError:  # the handler aborted with its own status
            raise
        except ServiceError as exc:
            status = rich_status(exc)
            if status is None:
                await context.abort(exc.code, exc.message)
            else:  # the same code and message, and the details in their trailer
                await context.abort(status.code, status.details, status.trailing_metadata)
        except Exception as exc:
            log.exception("unexpected error in %s", method, extra={"method": method})
            await context.abort(grpc.StatusCode.INTERNAL, f"internal error ({type(exc).__name__})")
        finally:
            code = grpc.StatusCode.CANCELLED if cancelled else _status_of(context)
            self._record(method, code, time.perf_counter() - started)

    def _record(self, method: str, code: grpc.StatusCode, elapsed: float) -> None:
        GRPC_LATENCY.labels(self.service, method).observe(elapsed)
        GRPC_HANDLED.labels(self.service, method, code.name).inc()
        level = logging.DEBUG if method.startswith(UNGUARDED_METHODS) else logging.INFO
        if code not in (grpc.StatusCode.OK, grpc.StatusCode.CANCELLED) and level == logging.INFO:
            level = logging.WARNING
        log.log(
            level,
            "%s %s %.1f ms",
            method,
            code.name,
            elapsed * 1000,
            extra={"method": method, "code": code.name, "ms": round(elapsed * 1000, 2)},
        )


def _status_of(context: grpc.aio.ServicerContext) -> grpc.StatusCode:
    """The status the handler set (or aborted with); OK when it set none."""
    code = context.code()
    if code is None:
        return grpc.StatusCode.OK
    if isinstance(code, int):  # some grpc versions report the raw integer
        return next((c for c in grpc.StatusCode if c.value[0] == code), grpc.StatusCode.UNKNOWN)
    return code
