"""gRPC server reflection in both versions clients ask for: `grpc.reflection.v1` (grpcurl
and newer tools try it first) and `grpc.reflection.v1alpha`.

grpcio-reflection serves only v1alpha (grpc/grpc#38576). v1 is the same protocol: the same
messages with the same fields under another package. So v1's descriptor here is v1alpha's
renamed (reflection can then describe v1 itself), and one v1alpha servicer answers both:
the bytes on the wire are the same.
"""

from __future__ import annotations

from collections.abc import Iterable

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_reflection.v1alpha import reflection, reflection_pb2, reflection_pb2_grpc

V1_SERVICE_NAME = "grpc.reflection.v1.ServerReflection"
V1ALPHA_SERVICE_NAME = reflection.SERVICE_NAME
_V1_FILE = "grpc/reflection/v1/reflection.proto"
_V1ALPHA_PREFIX, _V1_PREFIX = ".grpc.reflection.v1alpha.", ".grpc.reflection.v1."


def enable_reflection(server: grpc.aio.Server, service_names: Iterable[str]) -> None:
    """Serve both reflection versions on `server`, listing `service_names` and themselves."""
    _add_v1_descriptor(descriptor_pool.Default())
    servicer = reflection.aio.ReflectionServicer(
        [*service_names, V1_SERVICE_NAME, V1ALPHA_SERVICE_NAME]
    )
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(servicer, server)
    v1 = grpc.stream_stream_rpc_method_handler(
        servicer.ServerReflectionInfo,
        request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
        response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
    )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(V1_SERVICE_NAME, {"ServerReflectionInfo": v1}),)
    )


def _add_v1_descriptor(pool: descriptor_pool.DescriptorPool) -> None:
    """Put v1's file into `pool` once (a later grpcio-reflection may bring its own)."""
    try:
        pool.FindFileByName(_V1_FILE)
        return
    except KeyError:
        pass
    proto = descriptor_pb2.FileDescriptorProto()
    reflection_pb2.DESCRIPTOR.CopyToProto(proto)
    proto.name, proto.package = _V1_FILE, "grpc.reflection.v1"
    proto.ClearField("options")  # v1alpha's Java package and the like
    for message in proto.message_type:
        for field in message.field:
            if field.HasField("type_name"):  # message fields; setting it on others is an error
                field.type_name = _renamed(field.type_name)
    for service in proto.service:
        for method in service.method:
            method.input_type = _renamed(method.input_type)
            method.output_type = _renamed(method.output_type)
    pool.AddSerializedFile(proto.SerializeToString())


def _renamed(type_name: str) -> str:
    return _V1_PREFIX + type_name.removeprefix(_V1ALPHA_PREFIX)
