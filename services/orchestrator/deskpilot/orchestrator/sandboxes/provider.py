"""Sandbox providers: where a session's desktop comes from.

Every provider answers `acquire` with the endpoints of a sandbox whose executors are
serving, takes it back with `release`, and tells through `wait_gone` when one stops by
itself (killed, or an executor died), so the session can get a fresh one. The local
provider (this machine) and the Kubernetes provider (one Pod per session) implement the
same interface.
"""

from __future__ import annotations

from typing import Protocol

from deskpilot.v1 import common_pb2, session_pb2


class SandboxProvider(Protocol):
    """Hands out sandboxes and takes them back."""

    # Whether `release` really stops the sandbox, so the next `acquire` is a fresh desktop.
    stops_on_release: bool

    async def acquire(
        self, session_id: str, display: common_pb2.Size, template: str
    ) -> session_pb2.SandboxEndpoints:
        """A ready sandbox for `session_id` (executors SERVING)."""
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


class ExistingSandboxProvider:
    """Attaches sessions to one sandbox that was started elsewhere (e.g. by hand, or a
    sandbox container next to the orchestrator). Sessions share it, one at a time."""

    stops_on_release = False

    def __init__(self, endpoints: session_pb2.SandboxEndpoints) -> None:
        if not endpoints.display_address or not endpoints.shell_address:
            raise ValueError("the existing sandbox needs a display and a shell address")
        self.endpoints = endpoints

    async def acquire(
        self, session_id: str, display: common_pb2.Size, template: str
    ) -> session_pb2.SandboxEndpoints:
        endpoints = session_pb2.SandboxEndpoints()
        endpoints.CopyFrom(self.endpoints)
        endpoints.sandbox_id = endpoints.sandbox_id or "existing"
        return endpoints

    async def release(self, endpoints: session_pb2.SandboxEndpoints) -> None:
        """The sandbox belongs to whoever started it: nothing to stop."""

    async def wait_gone(self, endpoints: session_pb2.SandboxEndpoints) -> str | None:
        """Whoever started the sandbox looks after it; a replacement would be the same one."""
        return None

    async def close(self) -> None:
        """Nothing was started here."""
