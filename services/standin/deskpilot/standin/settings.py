"""Settings of the stand-in process (`python -m deskpilot.standin`)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field

from deskpilot.common.config import CommonSettings
from deskpilot.standin.tokens import DEFAULT_MIN_CACHEABLE_TOKENS


class StandInSettings(CommonSettings):
    """Where the stand-in listens and what it answers."""

    service_name: ClassVar[str] = "standin"

    host: str = Field("127.0.0.1", description="Address the stand-in binds; loopback by default.")
    port: int = Field(0, ge=0, le=65535, description="HTTP port; 0 picks a free one (logged).")
    script: Path | None = Field(
        None,
        description="JSON script of assistant turns; without one every answer is the "
        "'(stand-in script finished)' text turn.",
    )
    min_cacheable_tokens: int = Field(
        DEFAULT_MIN_CACHEABLE_TOKENS,
        ge=0,
        description="Shortest prompt prefix the prompt-caching simulation caches.",
    )
