"""Settings of the session commands (`deskpilot run`, `send`, `chat`, `watch`, ...)."""

from __future__ import annotations

import getpass
from typing import ClassVar

from pydantic import Field

from deskpilot.common.config import CommonSettings


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER (some containers)
        return "cli"


class CliSettings(CommonSettings):
    """Where the orchestrator is and who is deciding."""

    service_name: ClassVar[str] = "cli"

    orchestrator: str = Field(
        "127.0.0.1:50051",
        pattern=r"^\S+:\d{1,5}$",
        description="Orchestrator gRPC address (host:port); `deskpilot up` serves it on 50051.",
    )
    user: str = Field(
        "",
        description="Name recorded on your messages, approvals, denials and takeovers; "
        "empty: your login.",
    )

    @property
    def decider(self) -> str:
        """Who approvals and denials are recorded as."""
        return self.user or _login_name()
