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


def call_precisely(rpc: Callable[..., Any], request: Any, timeout: float = 60) -> None:
    """Send `request`; fail the test if the answer is INTERNAL or UNKNOWN. Records the
    status as a hypothesis event, so `--hypothesis-show-statistics` shows the mix."""
    try:
        rpc(request, timeout=timeout)
        event("OK")
    except grpc.RpcError as error:
        event(error.code().name)
        assert error.code() not in NOT_PRECISE, f"{error.code()}: {error.details()}\n{request}"
