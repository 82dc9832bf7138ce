"""Settings and wiring of a service's security: the key that verifies callers' tokens,
the revocation list, and optional (mutual) TLS for Kubernetes.

A service whose methods need callers' identities uses `SecuredServiceSettings`; it refuses
to start without `auth.public_key_file` (see `check_security`). There is no switch that
turns token checks off: tests mint real tokens too.
"""

from __future__ import annotations

from pathlib import Path

import grpc
from pydantic import BaseModel, Field, model_validator

from deskpilot.common.config import ServiceSettings
from deskpilot.common.grpc_auth import BearerTokens
from deskpilot.common.keys import KeyFileError, load_public_key
from deskpilot.common.revocation import RevocationList
from deskpilot.common.tokens import TokenVerifier


class AuthSettings(BaseModel):
    """How the service checks its callers' tokens."""

    public_key_file: Path | None = Field(
        None,
        description="Ed25519 public key (PEM) that verifies callers' tokens; required "
        "(`deskpilot up` makes the key pair).",
    )
    revoked_file: Path | None = Field(
        None,
        description="Revoked token ids, one per line, re-read when it changes; empty: none.",
    )


class TlsSettings(BaseModel):
    """TLS for gRPC, off by default (loopback). With a CA, peers must present a
    certificate it signed: mutual TLS between services, as in a Kubernetes deployment."""

    cert_file: Path | None = Field(
        None, description="This service's certificate chain (PEM); with key_file turns TLS on."
    )
    key_file: Path | None = Field(None, description="The private key of cert_file (PEM).")
    ca_file: Path | None = Field(
        None,
        description="CA certificates (PEM) that sign peers' certificates: clients must present "
        "one (mutual TLS), and this service checks the servers it calls against them.",
    )

    @model_validator(mode="after")
    def _cert_and_key_together(self) -> TlsSettings:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together: give both or neither")
        return self

    @property
    def enabled(self) -> bool:
        return self.cert_file is not None or self.ca_file is not None


class SecuredServiceSettings(ServiceSettings):
    """A service that checks who calls it."""

    auth: AuthSettings = Field(default_factory=AuthSettings)
    tls: TlsSettings = Field(default_factory=TlsSettings)


class SecurityNotConfigured(ValueError):
    """A secured service lacks its verification key, or a key or certificate is unusable."""


def bearer_tokens(settings: AuthSettings, service: str) -> BearerTokens:
    """The authenticator of a secured service; SecurityNotConfigured says what is missing."""
    variable = f"DESKPILOT_{service.upper()}_AUTH__PUBLIC_KEY_FILE"
    if settings.public_key_file is None:
        raise SecurityNotConfigured(
            "no key to verify callers' tokens: set --auth.public-key-file / "
            f"{variable} to the stack's public key (`deskpilot up` writes one)"
        )
    try:
        key = load_public_key(settings.public_key_file)
        revoked = RevocationList(settings.revoked_file)
    except (KeyFileError, ValueError) as exc:
        raise SecurityNotConfigured(str(exc)) from None
    return BearerTokens(TokenVerifier(key, revoked))


def server_credentials(tls: TlsSettings) -> grpc.ServerCredentials | None:
    """TLS credentials for a server (None: plaintext); with a CA, clients must present a
    certificate it signed."""
    if tls.cert_file is None or tls.key_file is None:
        if tls.ca_file is not None:
            raise SecurityNotConfigured("tls.ca_file needs tls.cert_file and tls.key_file")
        return None
    chain = (_read(tls.key_file), _read(tls.cert_file))
    ca = _read(tls.ca_file) if tls.ca_file else None
    return grpc.ssl_server_credentials([chain], root_certificates=ca, require_client_auth=bool(ca))


def channel_credentials(tls: TlsSettings) -> grpc.ChannelCredentials | None:
    """TLS credentials for a client (None: plaintext): the servers' CA, and this
    service's own certificate for mutual TLS."""
    if not tls.enabled:
        return None
    return grpc.ssl_channel_credentials(
        root_certificates=_read(tls.ca_file) if tls.ca_file else None,
        private_key=_read(tls.key_file) if tls.key_file else None,
        certificate_chain=_read(tls.cert_file) if tls.cert_file else None,
    )


def check_security(settings: ServiceSettings) -> None:
    """Fail before anything starts when a secured service cannot check tokens or serve
    TLS; raises SecurityNotConfigured with one line."""
    if isinstance(settings, SecuredServiceSettings):
        bearer_tokens(settings.auth, settings.service_name)
        server_credentials(settings.tls)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SecurityNotConfigured(f"cannot read {path}: {exc.strerror or exc}") from None
