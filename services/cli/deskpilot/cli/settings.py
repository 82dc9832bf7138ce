"""Settings of the session commands (`deskpilot run`, `send`, `chat`, `watch`, ...)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field

from deskpilot.cli.local_auth import AUTH_FOLDER, CLI_TOKEN, DEFAULT_DATA_DIR
from deskpilot.common.config import CommonSettings
from deskpilot.common.security import TlsSettings

# Where the CLI looks for its token when none is configured: what `deskpilot up` writes
# (its default data dir, relative to where you run), then a token of your own.
DEFAULT_TOKEN_FILES = (
    DEFAULT_DATA_DIR / AUTH_FOLDER / CLI_TOKEN,
    Path("~/.config/deskpilot/token"),
)


class CliTlsSettings(TlsSettings):
    """TLS to the orchestrator, off by default (loopback); what a Kubernetes deployment
    whose orchestrator serves mutual TLS needs."""

    cert_file: Path | None = Field(
        None,
        description="Your client certificate (PEM), for an orchestrator that asks for one "
        "(mutual TLS); with key_file.",
    )
    key_file: Path | None = Field(None, description="The private key of cert_file (PEM).")
    ca_file: Path | None = Field(
        None,
        description="CA certificates (PEM) that the orchestrator's certificate is checked "
        "against; turns TLS on.",
    )


class CliSettings(CommonSettings):
    """Where the orchestrator is and who is calling it."""

    service_name: ClassVar[str] = "cli"

    orchestrator: str = Field(
        "127.0.0.1:50051",
        pattern=r"^\S+:\d{1,5}$",
        description="Orchestrator gRPC address (host:port); `deskpilot up` serves it on 50051.",
    )
    token_file: Path | None = Field(
        None,
        description="Your token; its subject is the name recorded on your messages, approvals "
        "and takeovers. Empty: var/auth/cli.token (written by `deskpilot up`), else "
        "~/.config/deskpilot/token.",
    )

    tls: CliTlsSettings = Field(default_factory=CliTlsSettings)

    def token_path(self) -> Path:
        """The token file to present: the configured one, or the first default that exists
        (the first default when none does, so the error names it)."""
        if self.token_file is not None:
            return self.token_file.expanduser()
        candidates = [path.expanduser() for path in DEFAULT_TOKEN_FILES]
        return next((path for path in candidates if path.exists()), candidates[0])
