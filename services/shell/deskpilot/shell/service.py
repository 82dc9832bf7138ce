"""Assembles the Shell service for `run_service`."""

from __future__ import annotations

import contextlib

from deskpilot.common.grpc_server import ServiceBinding
from deskpilot.shell.servicer import ShellServicer
from deskpilot.shell.settings import ShellSettings
from deskpilot.v1 import shell_pb2, shell_pb2_grpc


def binding(servicer: ShellServicer) -> ServiceBinding:
    """The Shell service's registration for a GrpcServer."""
    return ServiceBinding(
        shell_pb2.DESCRIPTOR.services_by_name["Shell"],
        servicer,
        shell_pb2_grpc.add_ShellServicer_to_server,
    )


async def build(settings: ShellSettings, stack: contextlib.AsyncExitStack) -> list[ServiceBinding]:
    """One servicer per process; its shell is killed when the server stops."""
    servicer = ShellServicer(settings)
    stack.push_async_callback(servicer.close)
    return [binding(servicer)]
