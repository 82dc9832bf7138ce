"""Orchestrator settings."""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path
from typing import ClassVar

from pydantic import Field

from deskpilot.common.config import NatsClientSettings
from deskpilot.common.security import AuthSettings, SecuredServiceSettings
from deskpilot.orchestrator.sandboxes.settings import SandboxProviderSettings
from deskpilot.orchestrator.session_limits import DEFAULTS as LIMITS
from deskpilot.orchestrator.session_limits import MIN_NO_PROGRESS_REPEATS, Limits


def _default_replica_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class OrchestratorAuthSettings(AuthSettings):
    """Checking callers' tokens, and the replica's own token for the safety gate."""

    token_file: Path | None = Field(
        None,
        description="This replica's token (role `orchestrator`), presented to the safety gate; "
        "re-read when it changes.",
    )
    secrets_key_file: Path | None = Field(
        None,
        description="Secret key (base64, 32 bytes) sealing sandboxes' secrets in session "
        "records; required, the same on every replica (`deskpilot up` makes one).",
    )


class OrchestratorSettings(SecuredServiceSettings, NatsClientSettings):
    """Settings of an orchestrator replica."""

    service_name: ClassVar[str] = "orchestrator"

    auth: OrchestratorAuthSettings = Field(default_factory=OrchestratorAuthSettings)

    safety_address: str = Field("127.0.0.1:50053", description="Safety gate gRPC address.")
    safety_timeout_seconds: float = Field(
        5.0, gt=0, le=60, description="A gate call slower than this counts as BLOCK."
    )
    replica_id: str = Field(
        default_factory=_default_replica_id,
        description="This replica's id in session leases; unique per replica.",
    )
    jetstream_replicas: int = Field(
        1, ge=1, le=5,
        description="Servers of the JetStream cluster that keep each stream and bucket "
        "(events, sessions, leases, screenshots); 3 for a three-server cluster.",
    )  # fmt: skip
    lease_seconds: float = Field(
        10.0, ge=1, le=300, description="Seconds before a silent owner's sessions are taken over."
    )
    default_model: str = Field("claude-sonnet-4-6", description="Model for sessions naming none.")
    default_display: str = Field(
        "1280x800",
        pattern=r"^[0-9]{3,4}x[0-9]{3,4}$",  # ASCII: \d matches any script's digits
        description="Desktop size (WIDTHxHEIGHT) for sessions naming none.",
    )

    confirmation_timeout_seconds: float = Field(
        600.0, gt=0, le=86400, description="An unanswered confirmation is a denial after this."
    )
    max_sessions: int = Field(20, ge=1, le=1000, description="Sessions this replica runs at once.")
    max_sandboxes: int = Field(
        20, ge=1, le=1000,
        description="Sandboxes this replica's sessions hold at once; a session needing one "
        "beyond that waits in line, its status saying so.",
    )  # fmt: skip
    idle_release_seconds: float = Field(
        900.0, ge=0, le=86400,
        description="A session waiting this long for a message stops its sandbox (the next "
        "message starts a fresh one, and the model is told); 0: never.",
    )  # fmt: skip
    max_sandbox_restarts: int = Field(
        3, ge=0, le=100,
        description="Fresh sandboxes a session gets after its sandbox stopped by itself "
        "(killed, or an executor died); one more loss fails the session.",
    )  # fmt: skip
    sandbox: SandboxProviderSettings = Field(default_factory=SandboxProviderSettings)
    max_result_characters: int = Field(
        16_000,
        ge=1_000,
        le=1_000_000,
        description="Most characters of one tool result the model receives (bash output, file "
        "views, errors); longer ones keep their head and tail and say what was cut.",
    )
    # A session's limits: the defaults, and the most a session may ask for (see
    # session_limits; SessionConfig.limits asks for less).
    max_steps: int = Field(
        LIMITS.max_steps, ge=1, le=100_000,
        description="Most model turns of a session (the default and the most a session's "
        "config.limits may ask for).",
    )  # fmt: skip
    max_tokens: int = Field(
        LIMITS.max_tokens, ge=1_000, le=10_000_000_000,
        description="Most tokens (input and output) of a session; default and maximum.",
    )  # fmt: skip
    max_wall_seconds: int = Field(
        LIMITS.max_wall_seconds, ge=10, le=30 * 86400,
        description="Most wall-clock seconds of a session; default and maximum.",
    )  # fmt: skip
    no_progress_repeats: int = Field(
        LIMITS.no_progress_repeats, ge=MIN_NO_PROGRESS_REPEATS, le=1_000,
        description="The same action on an unchanged screen this many times in a row ends a "
        "session (no progress); default and maximum.",
    )  # fmt: skip
    bash_timeout_seconds: int = Field(
        LIMITS.bash_timeout_seconds, ge=1, le=3600,
        description="Most seconds one bash command runs before the shell stops it; default "
        "and maximum (at most the shell executor's max_timeout_seconds).",
    )  # fmt: skip
    anthropic_max_retries: int = Field(
        4, ge=0, le=20, description="SDK retries of 429, 5xx and overloaded answers."
    )

    @property
    def default_size(self) -> tuple[int, int]:
        """`default_display` as (width, height)."""
        width, height = self.default_display.split("x")
        return int(width), int(height)

    def limits(self) -> Limits:
        """The operator's session limits."""
        return Limits(
            max_steps=self.max_steps,
            max_tokens=self.max_tokens,
            max_wall_seconds=self.max_wall_seconds,
            no_progress_repeats=self.no_progress_repeats,
            bash_timeout_seconds=self.bash_timeout_seconds,
        )
