"""Wrapping a gRPC method handler's behaviour, whatever its kind, keeping its
(de)serializers: what every server interceptor of ours does to the handler it is given."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc

# Health checking and reflection: open to every caller (probes and tools need them before
# they hold any credential, and they reveal nothing), and quiet in the logs.
UNGUARDED_METHODS = ("/grpc.health.v1.Health/", "/grpc.reflection.")
# A handler's behaviour: (request or request iterator, context) -> response or stream.
Behavior = Callable[..., Any]
# Wraps a behaviour that answers once (unary-unary, stream-unary).
UnaryWrap = Callable[[Behavior], Behavior]
# Wraps a behaviour that answers with a stream; the wrapper is an async generator.
StreamWrap = Callable[[Behavior], Callable[..., AsyncIterator[Any]]]


def wrap_handler(
    handler: grpc.RpcMethodHandler, unary: UnaryWrap, stream: StreamWrap
) -> grpc.RpcMethodHandler:
    """The same handler with its behaviour wrapped by `unary` or `stream`."""
    serializers = (handler.request_deserializer, handler.response_serializer)
    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(unary(handler.unary_unary), *serializers)
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(unary(handler.stream_unary), *serializers)
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(stream(handler.unary_stream), *serializers)
    return grpc.stream_stream_rpc_method_handler(stream(handler.stream_stream), *serializers)


async def stream_through(behavior: Behavior, request: Any, context: Any) -> AsyncIterator[Any]:
    """Run a streaming behaviour: an async generator's items, or one that writes with
    context.write() and returns."""
    result = behavior(request, context)
    if inspect.isasyncgen(result):
        async for item in result:
            yield item
    else:
        await result
