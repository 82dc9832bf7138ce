"""What a component serves (gRPC, HTTP or the NATS protocol): how its clients write its
address, and how to tell that it is ready.

Each kind turns an endpoint (`host:port`, where the component listens) into the URL its
clients are given (`nats://host:port` for NATS, `http://host:port` for HTTP, the bare
endpoint for gRPC), and `until_serving` waits until the component answers the way its
kind says it is ready: gRPC health SERVING for its service, `GET <health path>` 200, or a
NATS `INFO` greeting.
"""

from __future__ import annotations

import asyncio
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from deskpilot.common.grpc_client import wait_until_serving
from deskpilot.common.natsserver import greets_like_nats

_POLL_SECONDS = 0.1


@dataclass(frozen=True)
class Grpc:
    """Serves gRPC; ready when health checking says SERVING for `health_service` (""
    asks about the server as a whole)."""

    health_service: str = ""

    def url(self, endpoint: str) -> str:
        return endpoint


@dataclass(frozen=True)
class Http:
    """Serves HTTP; ready when `GET <health_path>` answers 200."""

    health_path: str = "/health"

    def url(self, endpoint: str) -> str:
        return f"http://{endpoint}"


@dataclass(frozen=True)
class Nats:
    """Speaks the NATS client protocol; ready when it greets a connection with `INFO`."""

    def url(self, endpoint: str) -> str:
        return f"nats://{endpoint}"


Serves = Grpc | Http | Nats


async def until_serving(serves: Serves, endpoint: str, timeout: float) -> None:
    """Return once the component at `endpoint` is ready; TimeoutError after `timeout`
    seconds, naming what it waited for and the last answer."""
    match serves:
        case Grpc(health_service=service):
            await wait_until_serving(endpoint, service=service, timeout=timeout)
        case Http(health_path=path):
            await _until_http_ok(f"{serves.url(endpoint)}{path}", timeout)
        case Nats():
            await _until_nats_greets(endpoint, timeout)


async def _until_http_ok(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        try:
            status = await asyncio.to_thread(_http_status, url)
        except OSError as exc:
            last = str(exc)
        else:
            if status == 200:
                return
            last = f"HTTP {status}"
        await asyncio.sleep(_POLL_SECONDS)
    raise TimeoutError(f"{url} not ready after {timeout:.0f} s ({last})")


def _http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as reply:
            return reply.status
    except urllib.error.HTTPError as exc:
        return exc.code


async def _until_nats_greets(endpoint: str, timeout: float) -> None:
    host, port = split_endpoint(endpoint)
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(greets_like_nats, host, port):
        if time.monotonic() >= deadline:
            raise TimeoutError(f"nats://{endpoint} not ready after {timeout:.0f} s (no INFO)")
        await asyncio.sleep(_POLL_SECONDS)


def split_endpoint(endpoint: str) -> tuple[str, int]:
    """`host:port` (or `[v6 host]:port`) as (host, port); ValueError if it is not one."""
    host, sep, port = endpoint.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"not a host:port endpoint: {endpoint!r}")
    return host.removeprefix("[").removesuffix("]"), int(port)
