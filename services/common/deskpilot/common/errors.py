"""Errors a service raises on purpose, each bound to the gRPC status code it means.

Handlers raise these; the server interceptor turns them into the status and message,
so a bad request never surfaces as INTERNAL or a stack trace. An InvalidArgument that
names its fields also carries them as `google.rpc.BadRequest` field violations in the
status details (the `grpc-status-details-bin` trailer), so a client can point at the
field without parsing the message: `field_violations(rpc_error)` reads them back.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.protobuf.message import DecodeError, Message
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status


@dataclass(frozen=True)
class FieldViolation:
    """One bad field: its path in the request (e.g. `config.task`,
    `config.labels['team']`) and what is wrong with it."""

    field: str
    description: str


class ServiceError(Exception):
    """Base: an error with a gRPC status code and a message meant for the caller."""

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def status_details(self) -> list[Message]:
        """Typed details for the status (google.rpc error details); none by default."""
        return []


class InvalidArgument(ServiceError):
    """The request is malformed or a value is out of range.

    `field`: the path of the one bad field (the message describes it); `violations`: each
    of several bad fields. Either becomes a google.rpc.BadRequest in the status details.
    """

    code = grpc.StatusCode.INVALID_ARGUMENT

    def __init__(
        self, message: str, *, field: str = "", violations: Sequence[FieldViolation] = ()
    ) -> None:
        super().__init__(message)
        self.violations = list(violations) or ([FieldViolation(field, message)] if field else [])

    def status_details(self) -> list[Message]:
        if not self.violations:
            return []
        return [
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(
                        field=v.field, description=v.description
                    )
                    for v in self.violations
                ]
            )
        ]


@contextmanager
def naming(field: str) -> Iterator[None]:
    """Inside, an InvalidArgument that names no field gets `field`: for checks that know
    what is wrong with a value but not where the value sat in the request."""
    try:
        yield
    except InvalidArgument as exc:
        if exc.violations or not field:
            raise
        raise InvalidArgument(exc.message, field=field) from None


class NotFound(ServiceError):
    """The named thing (session, file, …) does not exist."""

    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(ServiceError):
    """The thing to create exists already."""

    code = grpc.StatusCode.ALREADY_EXISTS


class FailedPrecondition(ServiceError):
    """The request is valid but the current state does not allow it."""

    code = grpc.StatusCode.FAILED_PRECONDITION


class Unauthenticated(ServiceError):
    """The caller did not prove who it is: no token, or one that is bad, expired or revoked."""

    code = grpc.StatusCode.UNAUTHENTICATED


class PermissionDenied(ServiceError):
    """The caller may not do this."""

    code = grpc.StatusCode.PERMISSION_DENIED


class Unavailable(ServiceError):
    """A dependency is down; retrying later may succeed.

    `retry_after` (seconds): the service itself answered and says when the same request
    should go through; it becomes a google.rpc.RetryInfo in the status details, which
    `retry_delay(rpc_error)` reads back, so a client can tell this from a server it could
    not reach at all."""

    code = grpc.StatusCode.UNAVAILABLE

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def status_details(self) -> list[Message]:
        if self.retry_after is None:
            return []
        delay = duration_pb2.Duration()
        delay.FromNanoseconds(int(self.retry_after * 1e9))
        return [error_details_pb2.RetryInfo(retry_delay=delay)]


class DeadlineExceeded(ServiceError):
    """The operation did not finish in time."""

    code = grpc.StatusCode.DEADLINE_EXCEEDED


class ResourceExhausted(ServiceError):
    """A limit was reached (size, quota, concurrency)."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED


def rich_status(error: ServiceError) -> grpc.Status | None:
    """The status to end an RPC with when `error` has details (its code, message and a
    `grpc-status-details-bin` trailer); None when it has none."""
    details = error.status_details()
    if not details:
        return None
    packed = []
    for detail in details:
        holder = any_pb2.Any()
        holder.Pack(detail)
        packed.append(holder)
    status = status_pb2.Status(code=error.code.value[0], message=error.message, details=packed)
    return rpc_status.to_status(status)


def _details(error: grpc.RpcError) -> list[any_pb2.Any]:
    """The packed details of a failed call's status; empty when there are none or they
    cannot be read."""
    try:
        status = rpc_status.from_call(error)  # type: ignore[arg-type]
    except (ValueError, DecodeError):  # a status whose details do not match the call
        return []
    return list(status.details) if status is not None else []


def retry_delay(error: grpc.RpcError) -> float | None:
    """The seconds after which the server that answered says to try again (its
    RetryInfo); None when it sent none, as when it could not be reached."""
    for detail in _details(error):
        if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info = error_details_pb2.RetryInfo()
            detail.Unpack(info)
            return info.retry_delay.ToNanoseconds() / 1e9
    return None


def field_violations(error: grpc.RpcError) -> list[FieldViolation]:
    """The BadRequest field violations in a failed call's status details (a client's
    view; empty when there are none or they cannot be read)."""
    found = []
    for detail in _details(error):
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            request = error_details_pb2.BadRequest()
            detail.Unpack(request)
            found += [FieldViolation(v.field, v.description) for v in request.field_violations]
    return found
