"""Gateway settings."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, field_validator

from deskpilot.common.config import NatsClientSettings
from deskpilot.common.security import AuthSettings, SecuredServiceSettings

_ORIGIN_SCHEMES = ("http://", "https://")


class GatewayAuthSettings(AuthSettings):
    """Checking people's tokens, and the gateway's own token for GetDesktopAccess."""

    token_file: Path | None = Field(
        None,
        description="The gateway's own token (role `gateway`), presented only to ask the "
        "orchestrator for a session's desktop; re-read when it changes. Required.",
    )


class GatewaySettings(SecuredServiceSettings, NatsClientSettings):
    """Settings of the gateway: the web page, its routes and the desktop proxy."""

    service_name: ClassVar[str] = "gateway"

    auth: GatewayAuthSettings = Field(default_factory=GatewayAuthSettings)

    host: str = Field(
        "127.0.0.1", description="Address the HTTP and websocket server binds; loopback unless "
        "configured.",
    )  # fmt: skip
    port: int = Field(8080, ge=0, le=65535, description="HTTP port; 0 picks a free one.")
    orchestrator_address: str = Field(
        "127.0.0.1:50051", description="Orchestrator gRPC address (host:port)."
    )
    allowed_origins: list[str] = Field(
        [],
        description="Origins (scheme://host:port) whose pages may open websockets and change "
        "anything (JSON list); empty: the gateway's own address as http://127.0.0.1, "
        "localhost and [::1] at its port.",
    )
    cookie_secure: bool = Field(
        False,
        description="Mark the login cookie Secure (send it over HTTPS only): set it when a "
        "TLS proxy fronts the gateway.",
    )
    web_dir: Path | None = Field(
        None,
        description="Folder of the page's files; empty: the one packaged with the gateway.",
    )
    vendor_dir: Path | None = Field(
        None,
        description="Folder of the vendored noVNC modules (`make web-deps` fills it); empty: "
        "`vendor` beside the page's files.",
    )
    desktop_mode: Literal["fanout", "passthrough"] = Field(
        "fanout",
        description="`fanout`: one VNC connection per session whatever the number of viewers; "
        "`passthrough`: one per viewer (the test oracle and benchmark baseline).",
    )
    max_message_kb: int = Field(
        64, ge=1, le=4096,
        description="Largest websocket message a browser may send on the command and event "
        "routes, in KiB (the desktop route has its own bound).",
    )  # fmt: skip

    @field_validator("allowed_origins")
    @classmethod
    def _check_origins(cls, values: list[str]) -> list[str]:
        for value in values:
            if (
                not value.startswith(_ORIGIN_SCHEMES)
                or value.rstrip("/") != value
                or (value.count("/") != 2)
            ):
                raise ValueError(
                    f"each origin must be scheme://host[:port], without a path (got {value!r})"
                )
        return values

    def origins(self, bound_port: int) -> frozenset[str]:
        """The origins allowed, with the defaults filled in for the port bound."""
        if self.allowed_origins:
            return frozenset(self.allowed_origins)
        port = "" if bound_port == 80 else f":{bound_port}"
        hosts = {"127.0.0.1", "localhost", "[::1]"}
        if self.host not in {"0.0.0.0", "::", ""}:
            hosts.add(f"[{self.host}]" if ":" in self.host else self.host)
        return frozenset(f"http://{host}{port}" for host in hosts)
