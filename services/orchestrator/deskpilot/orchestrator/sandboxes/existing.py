"""The `existing` provider: every session attaches to one sandbox started elsewhere."""

from __future__ import annotations

from deskpilot.v1 import common_pb2, session_pb2


class ExistingSandboxProvider:
    """Attaches sessions to one sandbox that was started elsewhere (e.g. by hand, or a
    sandbox container next to the orchestrator). Sessions share it, one at a time."""

    stops_on_release = False

    def __init__(
        self,
        endpoints: session_pb2.SandboxEndpoints,
        secrets: session_pb2.SandboxSecrets | None = None,
    ) -> None:
        if not endpoints.display_address or not endpoints.shell_address:
            raise ValueError("the existing sandbox needs a display and a shell address")
        self.endpoints = endpoints
        self.secrets = secrets or session_pb2.SandboxSecrets()

    async def acquire(
        self, session_id: str, display: common_pb2.Size, template: str
    ) -> session_pb2.ProvisionedSandbox:
        sandbox = session_pb2.ProvisionedSandbox(endpoints=self.endpoints, secrets=self.secrets)
        sandbox.endpoints.sandbox_id = sandbox.endpoints.sandbox_id or "existing"
        return sandbox

    async def release(self, endpoints: session_pb2.SandboxEndpoints) -> None:
        """The sandbox belongs to whoever started it: nothing to stop."""

    async def wait_gone(self, endpoints: session_pb2.SandboxEndpoints) -> str | None:
        """Whoever started the sandbox looks after it; a replacement would be the same one."""
        return None

    async def close(self) -> None:
        """Nothing was started here."""
