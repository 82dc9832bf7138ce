"""Settings of the shell executor (`--flag` or `DESKPILOT_SHELL_<FIELD>`)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from deskpilot.common.executor import ExecutorSettings


class ShellSettings(ExecutorSettings):
    """Where the editor may work, how the shell runs, and the limits on both."""

    service_name: ClassVar[str] = "shell"

    roots: list[str] = Field(
        ["~", "/workspace"],
        min_length=1,
        description=(
            "Directories the editor may read and write (JSON list); `~` is the user's home. "
            "Symlinks and `..` are followed only while they stay inside them."
        ),
    )
    working_dir: str = Field("~", description="Directory the shell starts in.")
    shell_path: str = Field("/bin/bash", description="The bash binary run as the persistent shell.")
    default_timeout_seconds: float = Field(
        120.0, gt=0, le=86400, description="Timeout of a bash command when the request sets none."
    )
    max_timeout_seconds: float = Field(
        3600.0, gt=0, le=86400, description="Largest timeout a request may ask for."
    )
    max_output_bytes: int = Field(
        32768,
        ge=256,
        description="Bytes of stdout and of stderr kept (half head, half tail) by default.",
    )
    max_output_bytes_limit: int = Field(
        4 * 1024 * 1024,
        ge=256,
        description="Largest `max_output_bytes` a request may ask for.",
    )
    kill_grace_seconds: float = Field(
        2.0,
        gt=0,
        le=60,
        description="Seconds a killed command has to end before the shell is restarted.",
    )
    input_check_seconds: float = Field(
        0.25,
        gt=0,
        le=10,
        description="How often a running command is checked for waiting on input it cannot get.",
    )
    max_stream_buffer_bytes: int = Field(
        4 * 1024 * 1024,
        ge=65536,
        description="Output a BashStream may queue for a slow client before chunks are skipped.",
    )
    max_file_bytes: int = Field(
        10_000_000, ge=1, description="Largest file the editor reads or writes, in bytes."
    )
    max_directory_entries: int = Field(
        1000, ge=1, description="Most entries a directory view lists before it is cut."
    )
    undo_depth: int = Field(
        20, ge=1, le=1000, description="Edits of one file that `undo_edit` can revert."
    )
    idempotency_entries: int = Field(
        1000,
        ge=1,
        description="Results kept for replaying requests with a repeated idempotency key.",
    )
