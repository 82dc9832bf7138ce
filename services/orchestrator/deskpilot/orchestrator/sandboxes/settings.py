"""What can be configured about sandbox providers: which one, and one group per provider.

They sit in the orchestrator's settings as `sandbox`: `--sandbox.provider existing`,
`--sandbox.local.pool-size 2`, `DESKPILOT_ORCHESTRATOR_SANDBOX__EXISTING__SHELL_ADDRESS`.
A new provider adds its name to `ProviderName` and its own group here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from deskpilot.common.sandbox_credential import read_credential_file

# Kubernetes object names: a DNS label (namespaces) or subdomain (most others).
_DNS_LABEL = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
_DNS_NAME = r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$"

ProviderName = Literal["local", "existing", "kubernetes"]


class LocalProviderSettings(BaseModel):
    """The `local` provider: one sandbox process per session on this machine."""

    pool_size: int = Field(
        1, ge=0, le=20, description="Warm sandboxes the local provider keeps ready."
    )
    x_server: Literal["xvfb", "xvnc"] = Field("xvfb", description="X server of local sandboxes.")
    user: str = Field(
        "deskpilot",
        pattern=r"^[a-z_][a-z0-9_-]{0,31}$",
        description="Unprivileged user local sandboxes run as when the orchestrator is root "
        "(created if missing; never root).",
    )
    python: str = Field(
        "",
        description="Python local sandboxes run their executors with, as the sandbox user; "
        "empty: `.venv-sandbox` beside this virtualenv (`make` builds it), else this Python.",
    )
    work_dir: str = Field(
        "", description="Folder for local sandboxes' runtime files and logs; empty: temp."
    )


class ExistingProviderSettings(BaseModel):
    """The `existing` provider: every session attaches to one sandbox started elsewhere."""

    display_address: str = Field("", description="Display executor (provider `existing`).")
    shell_address: str = Field("", description="Shell executor (provider `existing`).")
    vnc_address: str = Field("", description="VNC server (provider `existing`).")
    credential_file: str = Field(
        "",
        description="File holding the credential its executors require (provider `existing`; "
        "the sandbox's `--credential-file` or its ready report), read at start.",
    )
    vnc_password_file: str = Field(
        "",
        description="File holding its VNC password (the sandbox's `--vnc-password`), which "
        "the gateway's viewers need; empty: the VNC server asks for none.",
    )


class KubernetesProviderSettings(BaseModel):
    """The `kubernetes` provider: one Pod per session, made from a PodTemplate."""

    namespace: str = Field(
        "deskpilot-sandboxes",
        pattern=_DNS_LABEL,
        description="Namespace of the sandbox Pods, their Secrets and the PodTemplate.",
    )
    pod_template: str = Field(
        "sandbox",
        pattern=_DNS_NAME,
        description="PodTemplate each session's Pod is made from (a session's "
        "`sandbox_template` names another one in the same namespace).",
    )
    pool_size: int = Field(
        1, ge=0, le=50, description="Warm, unclaimed sandbox Pods kept ready (shared by replicas)."
    )
    kubeconfig: str = Field(
        "",
        description="kubeconfig file to reach the API server; empty: the Pod's own "
        "ServiceAccount (in-cluster).",
    )
    context: str = Field(
        "", description="Context of --sandbox.kubernetes.kubeconfig; empty: its current one."
    )
    ready_timeout_seconds: float = Field(
        180.0,
        gt=0,
        le=3600,
        description="A Pod not Ready after this long fails the session's start.",
    )
    warm_max_age_seconds: float = Field(
        1800.0,
        gt=0,
        description="Warm Pods older than this are replaced (their activeDeadlineSeconds runs "
        "from their start, not their claim).",
    )
    sweep_interval_seconds: float = Field(
        60.0,
        gt=0,
        description="How often a replica deletes sandbox Pods whose session no longer exists.",
    )


class SandboxProviderSettings(BaseModel):
    """Which provider gives sessions their sandboxes, and each provider's own settings."""

    provider: ProviderName = Field(
        "local",
        description="`local` starts a sandbox per session on this machine; `existing` attaches "
        "every session to the sandbox at --sandbox.existing.display-address / "
        "--sandbox.existing.shell-address.",
    )
    local: LocalProviderSettings = Field(default_factory=LocalProviderSettings)
    existing: ExistingProviderSettings = Field(default_factory=ExistingProviderSettings)
    kubernetes: KubernetesProviderSettings = Field(default_factory=KubernetesProviderSettings)

    @model_validator(mode="after")
    def _existing_needs_its_addresses(self) -> SandboxProviderSettings:
        # Caught here, the service stops with one line instead of failing at its first session.
        if self.provider == "existing":
            missing = [
                f"--sandbox.existing.{name.replace('_', '-')}"
                for name in ("display_address", "shell_address", "credential_file")
                if not getattr(self.existing, name)
            ]
            if missing:
                raise ValueError(f"provider `existing` needs {' and '.join(missing)}")
            # Its executors answer no call without the credential: unreadable, the service
            # would fail every session, so it does not start.
            read_credential_file(Path(self.existing.credential_file), remove=False)
        return self
