"""The `main()` of every gRPC service: settings, logs, metrics, server, graceful stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Awaitable, Callable, Sequence

import grpc

from deskpilot.common.config import SettingsT, settings_or_exit
from deskpilot.common.grpc_server import GrpcServer, PortUnavailable, ServiceBinding, serve_forever
from deskpilot.common.logs import configure_logging
from deskpilot.common.metrics import serve_metrics
from deskpilot.common.security import SecurityNotConfigured, check_security

log = logging.getLogger("deskpilot.service")

# Builds a service's bindings; resources it opens (NATS, X connections) are pushed on
# the exit stack and closed after the server has stopped.
BuildBindings = Callable[[SettingsT, contextlib.AsyncExitStack], Awaitable[list[ServiceBinding]]]
# Builds the interceptors that run on every RPC of a service (e.g. an executor's credential
# check); it may stop the process with one line (SystemExit) when its settings are unusable.
BuildInterceptors = Callable[[SettingsT], Sequence[grpc.aio.ServerInterceptor]]


async def serve(
    settings: SettingsT,
    build: BuildBindings,
    interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
) -> None:
    """Build the service, serve it until SIGTERM/SIGINT, then release its resources."""
    async with contextlib.AsyncExitStack() as stack:
        bindings = await build(settings, stack)
        if settings.metrics_port >= 0:
            port = serve_metrics(settings.metrics_host, settings.metrics_port)
            log.info("metrics on http://%s:%d/metrics", settings.metrics_host, port)
        await serve_forever(GrpcServer(settings, bindings, interceptors=interceptors))


def run_service(
    settings_cls: type[SettingsT],
    build: BuildBindings,
    argv: Sequence[str] | None = None,
    *,
    interceptors: BuildInterceptors | None = None,
) -> None:
    """Entry point: load settings (exit 2 with one line on a bad value, or when a secured
    service has no key to check tokens with) and serve; a port it cannot listen on is one
    line and exit code 1."""
    settings = settings_or_exit(settings_cls, argv)
    try:
        check_security(settings)
    except SecurityNotConfigured as exc:
        print(f"deskpilot-{settings.service_name}: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    configure_logging(settings)
    guards = interceptors(settings) if interceptors is not None else ()
    try:
        asyncio.run(serve(settings, build, guards))
    except PortUnavailable as exc:
        print(f"deskpilot-{settings.service_name}: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
