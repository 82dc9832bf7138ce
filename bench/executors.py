"""Executors started by a benchmark itself, and stubs that present their credential.

An executor answers only calls carrying its sandbox credential, which it reads from a
descriptor it inherits; a benchmark plays the orchestrator's part.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from deskpilot.common.processes import PopenChild, SpawnOptions, spawn
from deskpilot.common.sandbox_credential import call_metadata, credential_pipe, new_credential


def spawn_executor(name: str, argv: Sequence[str], **options: Any) -> tuple[PopenChild, str]:
    """Start an executor (`python -m deskpilot.display ...`) with a fresh credential."""
    credential = new_credential()
    fd = credential_pipe(credential)
    try:
        spawn_options: SpawnOptions = {**options, "pass_fds": (fd,)}  # type: ignore[typeddict-item]
        child = spawn(name, [*argv, "--credential-fd", str(fd)], **spawn_options)
    finally:
        os.close(fd)
    return child, credential


class WithCredential:
    """A gRPC stub (blocking or asyncio) whose every call presents `credential`."""

    def __init__(self, stub: Any, credential: str) -> None:
        self._stub = stub
        self._metadata = call_metadata(credential)

    def __getattr__(self, method: str) -> Any:
        call = getattr(self._stub, method)
        return lambda *args, **kwargs: call(*args, metadata=self._metadata, **kwargs)
