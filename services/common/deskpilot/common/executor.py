"""What the display and shell executors share: they answer only their orchestrator.

An executor reads its sandbox credential from a descriptor it inherits
(`--credential-fd`), makes itself unreachable to the other processes of its user (the
model's shell among them) and refuses every call without the credential. Without one it
does not start: an executor inside a sandbox that anyone on the machine may call is what
this prevents.
"""

from __future__ import annotations

import sys
from typing import NoReturn

import grpc
from pydantic import Field

from deskpilot.common.config import ServiceSettings
from deskpilot.common.credential_check import CredentialCheck
from deskpilot.common.sandbox_credential import (
    CredentialError,
    keep_out_of_reach,
    read_credential_fd,
)


class ExecutorSettings(ServiceSettings):
    """Settings of a service that runs inside a sandbox and acts on it."""

    credential_fd: int = Field(
        -1,
        ge=-1,
        description="Inherited file descriptor holding the sandbox credential, read at start "
        "and closed; every call but health and reflection must present it. Required (the "
        "sandbox passes it).",
    )


def credential_guard(settings: ExecutorSettings) -> list[grpc.aio.ServerInterceptor]:
    """The credential check for `settings`' executor; exits with one line (code 2) when
    it has no usable credential."""
    if settings.credential_fd < 0:
        _exit(
            settings,
            "no sandbox credential: it answers only calls that present one; start it with "
            "--credential-fd N, an inherited descriptor holding it (as the sandbox does)",
        )
    try:
        credential = read_credential_fd(settings.credential_fd)
    except CredentialError as exc:
        _exit(settings, f"invalid setting credential_fd (--credential-fd): {exc}")
    keep_out_of_reach()
    return [CredentialCheck(credential)]


def _exit(settings: ExecutorSettings, problem: str) -> NoReturn:
    print(f"deskpilot-{settings.service_name}: {problem}", file=sys.stderr)
    raise SystemExit(2)  # as for any other invalid setting
