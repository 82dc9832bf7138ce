"""A real service process for lifecycle tests: `test.Slow/Sleep` sleeps for the seconds in
its request (ASCII), prints `started` to stdout when a call begins, and answers `done`."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import ClassVar

import grpc

from deskpilot.common.config import ServiceSettings, settings_or_exit
from deskpilot.common.grpc_server import GrpcServer
from deskpilot.common.logs import configure_logging


class SlowSettings(ServiceSettings):
    service_name: ClassVar[str] = "slow"


async def _sleep(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    print("started", flush=True)
    await asyncio.sleep(float(request.decode()))
    return b"done"


async def _main() -> None:
    settings = settings_or_exit(SlowSettings)
    configure_logging(settings)
    handler = grpc.method_handlers_generic_handler(
        "test.Slow", {"Sleep": grpc.unary_unary_rpc_method_handler(_sleep)}
    )
    server = GrpcServer(settings, generic_handlers=[handler], extra_service_names=["test.Slow"])
    with contextlib.suppress(asyncio.CancelledError):
        await serve_forever_printing_port(server)


async def serve_forever_printing_port(server: GrpcServer) -> None:
    await server.start()
    print(f"port {server.port}", flush=True)
    server.stop_on_signals()
    await server.wait_for_termination()


if __name__ == "__main__":
    asyncio.run(_main())
    sys.exit(0)
