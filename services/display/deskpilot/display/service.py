"""The `Display` gRPC servicer: a thin layer over `DisplayExecutor`."""

from __future__ import annotations

import grpc

from deskpilot.common.grpc_server import ServiceBinding
from deskpilot.display.executor import DisplayExecutor
from deskpilot.v1 import display_pb2, display_pb2_grpc


class DisplayServicer(display_pb2_grpc.DisplayServicer):
    """Serves GetInfo, Screenshot, Act and Inspect for one executor."""

    def __init__(self, executor: DisplayExecutor) -> None:
        self.executor = executor

    async def GetInfo(
        self, request: display_pb2.GetInfoRequest, context: grpc.aio.ServicerContext
    ) -> display_pb2.GetInfoResponse:
        return await self.executor.info(request)

    async def Screenshot(
        self, request: display_pb2.ScreenshotRequest, context: grpc.aio.ServicerContext
    ) -> display_pb2.ScreenshotResponse:
        return await self.executor.screenshot(request)

    async def Act(
        self, request: display_pb2.ActRequest, context: grpc.aio.ServicerContext
    ) -> display_pb2.ActResponse:
        return await self.executor.act(request)

    async def Inspect(
        self, request: display_pb2.InspectRequest, context: grpc.aio.ServicerContext
    ) -> display_pb2.InspectResponse:
        return await self.executor.inspect(request)


def display_binding(executor: DisplayExecutor) -> ServiceBinding:
    """The binding to pass to `GrpcServer` (or the tests' `grpc_server` fixture)."""
    return ServiceBinding(
        display_pb2.DESCRIPTOR.services_by_name["Display"],
        DisplayServicer(executor),
        display_pb2_grpc.add_DisplayServicer_to_server,
    )
