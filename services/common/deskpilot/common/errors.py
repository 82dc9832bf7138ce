"""Errors a service raises on purpose, each bound to the gRPC status code it means.

Handlers raise these; the server interceptor turns them into the status and message,
so a bad request never surfaces as INTERNAL or a stack trace.
"""

from __future__ import annotations

import grpc


class ServiceError(Exception):
    """Base: an error with a gRPC status code and a message meant for the caller."""

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(ServiceError):
    """The request is malformed or a value is out of range."""

    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(ServiceError):
    """The named thing (session, file, …) does not exist."""

    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(ServiceError):
    """The thing to create exists already."""

    code = grpc.StatusCode.ALREADY_EXISTS


class FailedPrecondition(ServiceError):
    """The request is valid but the current state does not allow it."""

    code = grpc.StatusCode.FAILED_PRECONDITION


class PermissionDenied(ServiceError):
    """The caller may not do this."""

    code = grpc.StatusCode.PERMISSION_DENIED


class Unavailable(ServiceError):
    """A dependency is down; retrying later may succeed."""

    code = grpc.StatusCode.UNAVAILABLE


class DeadlineExceeded(ServiceError):
    """The operation did not finish in time."""

    code = grpc.StatusCode.DEADLINE_EXCEEDED


class ResourceExhausted(ServiceError):
    """A limit was reached (size, quota, concurrency)."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED
