"""What the gRPC fuzz tests share: hypothesis settings, the values JSON cannot carry, and
the check that a service answered precisely (anything but INTERNAL or UNKNOWN)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import grpc
from google.protobuf import struct_pb2
from hypothesis import HealthCheck, event, settings

NOT_PRECISE = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}
# Numbers a Struct can carry but JSON cannot, and numbers at the edges of int32 and beyond.
EDGE_NUMBERS = [math.nan, math.inf, -math.inf, 1e300, -0.0, 0.5, 2**31, -(2**31) - 1]


def fuzz_settings(max_examples: int) -> settings:
    """Many examples against one long-lived service (a module fixture), no deadline."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )


def struct(value: dict[str, Any]) -> struct_pb2.Struct:
    """A tool call's input as the protobuf Struct it travels in."""
    message = struct_pb2.Struct()
    message.update(value)
    return message


def answer(rpc: Callable[..., Any], request: Any, timeout: float = 60) -> tuple[Any, str]:
    """Send `request`; its status code (OK when it was answered) and the error's details.
    Records the status as a hypothesis event, so `--hypothesis-show-statistics` shows the
    mix. The caller asserts what the code may be."""
    try:
        rpc(request, timeout=timeout)
    except grpc.RpcError as error:
        event(error.code().name)
        return error.code(), error.details() or ""
    event("OK")
    return grpc.StatusCode.OK, ""
