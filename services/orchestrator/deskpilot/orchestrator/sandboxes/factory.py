"""The provider the settings choose."""

from __future__ import annotations

from pathlib import Path
from typing import assert_never

from deskpilot.common.sandbox_credential import read_credential_file
from deskpilot.orchestrator.sandboxes.provider import SandboxProvider
from deskpilot.orchestrator.sandboxes.settings import SandboxProviderSettings
from deskpilot.v1 import session_pb2


def make_provider(
    settings: SandboxProviderSettings, default_size: tuple[int, int]
) -> SandboxProvider:
    """A started provider (the local one begins filling its warm pool)."""
    # Imported per branch: a deployment loads only the provider it uses.
    match settings.provider:
        case "existing":
            from deskpilot.orchestrator.sandboxes.existing import ExistingSandboxProvider

            existing = settings.existing
            credential = read_credential_file(Path(existing.credential_file), remove=False)
            vnc_password = ""
            if existing.vnc_password_file:
                try:
                    vnc_password = Path(existing.vnc_password_file).read_text().strip()
                except OSError as error:
                    raise SystemExit(
                        "deskpilot-orchestrator: cannot read sandbox.existing.vnc_password_file "
                        f"{existing.vnc_password_file}: {error.strerror}"
                    ) from None
            return ExistingSandboxProvider(
                session_pb2.SandboxEndpoints(
                    display_address=existing.display_address,
                    shell_address=existing.shell_address,
                    vnc_address=existing.vnc_address,
                ),
                session_pb2.SandboxSecrets(
                    executor_credential=credential, vnc_password=vnc_password
                ),
            )
        case "local":
            from deskpilot.orchestrator.sandboxes.local import LocalSandboxProvider

            provider = LocalSandboxProvider.from_settings(settings.local, default_size)
            provider.fill_pool()
            return provider
        case "kubernetes":
            from deskpilot.orchestrator.sandboxes.kubernetes import KubernetesSandboxProvider

            kube = KubernetesSandboxProvider.from_settings(settings.kubernetes, default_size)
            kube.fill_pool()
            return kube
        case unknown:  # a name added to ProviderName without a provider fails type checks
            assert_never(unknown)
