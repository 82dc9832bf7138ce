"""The token a client presents: read from a file (so a rotated token is picked up without
a restart), sent as `authorization: Bearer <token>` on every call of a channel."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc

# Gives the token to send; called once per RPC.
TokenSource = Callable[[], str]


class TokenFileError(ValueError):
    """The token file is missing, unreadable or empty; the message names it."""


class TokenFile:
    """`TokenFile(path)()` is the token in `path`, read again whenever the file changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._token = ""
        self()  # a missing or empty file is an error now, not at the first call

    def __call__(self) -> str:
        with self._lock:
            try:
                info = os.stat(self.path)
                stamp = (info.st_mtime_ns, info.st_size)
                if stamp != self._stamp:
                    token = self.path.read_text().strip()
                    if not token:
                        raise TokenFileError(f"the token file {self.path} is empty")
                    self._token, self._stamp = token, stamp
            except OSError as exc:
                if not self._token:
                    raise TokenFileError(
                        f"cannot read the token file {self.path}: {exc.strerror or exc}"
                    ) from None
                # Being replaced this moment: the token read before still serves.
            return self._token


def static_token(token: str) -> TokenSource:
    """A source that always gives `token` (tests, and a token held in memory)."""
    return lambda: token


class _Bearer:
    """Adds `authorization: Bearer <token>` to a call's metadata."""

    def __init__(self, token: TokenSource) -> None:
        self.token = token

    def _with_token(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        metadata = grpc.aio.Metadata(*(details.metadata or ()))
        metadata.add("authorization", f"Bearer {self.token()}")
        return grpc.aio.ClientCallDetails(
            details.method, details.timeout, metadata, details.credentials,
            details.wait_for_ready,
        )  # fmt: skip


# One class per kind of call: an aio channel files each interceptor under the first kind
# it is an instance of, so one object implementing all four would see unary calls only.
class _UnaryUnary(_Bearer, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(
        self, continuation: Callable[..., Any], client_call_details: Any, request: Any
    ) -> Any:
        return await continuation(self._with_token(client_call_details), request)


class _UnaryStream(_Bearer, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(
        self, continuation: Callable[..., Any], client_call_details: Any, request: Any
    ) -> Any:
        return await continuation(self._with_token(client_call_details), request)


class _StreamUnary(_Bearer, grpc.aio.StreamUnaryClientInterceptor):
    async def intercept_stream_unary(
        self, continuation: Callable[..., Any], client_call_details: Any, request_iterator: Any
    ) -> Any:
        return await continuation(self._with_token(client_call_details), request_iterator)


class _StreamStream(_Bearer, grpc.aio.StreamStreamClientInterceptor):
    async def intercept_stream_stream(
        self, continuation: Callable[..., Any], client_call_details: Any, request_iterator: Any
    ) -> Any:
        return await continuation(self._with_token(client_call_details), request_iterator)


def bearer_interceptors(token: TokenSource) -> list[grpc.aio.ClientInterceptor]:
    """Interceptors that present `token` on every call of an aio channel, of any kind."""
    return [kind(token) for kind in (_UnaryUnary, _UnaryStream, _StreamUnary, _StreamStream)]
