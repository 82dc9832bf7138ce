"""The one interface of every sandbox provider: where a session's desktop comes from.

Every provider answers `acquire` with the endpoints and secrets of a sandbox whose
executors are serving, takes it back with `release`, and tells through `wait_gone` when one stops by
itself (killed, or an executor died), so the session can get a fresh one. One module per
provider implements it: `existing` (a sandbox started elsewhere), `local` (processes on
this machine, with a warm pool), and `kubernetes` (one Pod per session).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol, runtime_checkable

from deskpilot.v1 import common_pb2, session_pb2


class SandboxProvider(Protocol):
    """Hands out sandboxes and takes them back."""

    # Whether `release` really stops the sandbox, so the next `acquire` is a fresh desktop.
    stops_on_release: bool

    async def acquire(
        self, session_id: str, display: common_pb2.Size, template: str
    ) -> session_pb2.ProvisionedSandbox:
        """A ready sandbox for `session_id` (executors SERVING): its endpoints, and its
        secrets (kept apart, so the public Session never holds them)."""
        ...

    async def release(self, endpoints: session_pb2.SandboxEndpoints) -> None:
        """Stop the sandbox (or return it to a pool); idempotent."""
        ...

    async def wait_gone(self, endpoints: session_pb2.SandboxEndpoints) -> str | None:
        """Return, with a readable reason, once the sandbox has stopped; None at once if
        this provider cannot tell."""
        ...

    async def close(self) -> None:
        """Stop every sandbox this provider started."""
        ...


@runtime_checkable
class SweepingProvider(Protocol):
    """A provider whose sandboxes outlive the replica that started them (Pods): it
    removes, now and then, those whose session no longer exists."""

    def start_sweeping(self, live_sessions: Callable[[], Awaitable[Iterable[str]]]) -> None:
        """Sweep in the background; `live_sessions` gives the ids of live sessions."""
        ...
