"""Settings of the sandbox start script (`--flag` / `DESKPILOT_SANDBOX_*`)."""

from __future__ import annotations

import ipaddress
import os
from typing import ClassVar, Literal

from pydantic import Field, field_validator

from deskpilot.common.config import CommonSettings


class SandboxSettings(CommonSettings):
    """One session's desktop: X server + VNC, desktop, executors."""

    service_name: ClassVar[str] = "sandbox"

    x_server: Literal["xvfb", "xvnc"] = Field(
        "xvfb",
        description="`xvfb` (Xvfb + x11vnc; measured faster for the executor's captures) "
        "or `xvnc` (TigerVNC Xvnc).",
    )
    display_number: int = Field(
        -1, ge=-1, le=65535, description="X display number; -1 lets the X server pick a free one."
    )
    width: int = Field(1280, ge=64, le=8192, description="Screen width in pixels.")
    height: int = Field(800, ge=64, le=8192, description="Screen height in pixels.")
    depth: Literal[16, 24, 32] = Field(24, description="Colour depth in bits.")
    vnc_host: str = Field(
        "127.0.0.1",
        description="The one address (IPv4 or IPv6) the VNC server listens on: the sandbox's "
        "private address.",
    )
    vnc_port: int = Field(0, ge=0, le=65535, description="VNC port; 0 picks a free one.")
    vnc_password: str = Field(
        "",
        description="VNC password (first 8 characters count); empty generates one per session.",
    )
    executor_host: str = Field(
        "127.0.0.1", description="Address the display and shell executors bind."
    )
    display_port: int = Field(0, ge=0, le=65535, description="Display executor gRPC port; 0: free.")
    shell_port: int = Field(0, ge=0, le=65535, description="Shell executor gRPC port; 0: free.")
    display_executor: bool = Field(True, description="Start the display executor.")
    shell_executor: bool = Field(
        True, description="Start the shell executor (skipped with a warning if not installed)."
    )
    desktop: bool = Field(True, description="Start the window manager and panel.")
    accessibility: bool = Field(
        True,
        description="Start a D-Bus session bus, so the apps publish their accessibility tree "
        "(what the display executor tells the safety gate about the widget under the pointer).",
    )
    user: str = Field(
        "deskpilot",
        description="When started as root, run everything as this unprivileged user (created "
        "if missing; never root). Ignored when not started as root.",
        pattern=r"^[a-z_][a-z0-9_-]{0,31}$",
    )
    executor_python: str = Field(
        "",
        description="Python the executors run with, as the desktop user (who must be able to "
        "run it, with deskpilot-display and deskpilot-shell installed); empty: this one.",
    )
    home: str = Field(
        "",
        description="Home folder of the desktop user (created if missing, owned by the user); "
        "empty: `<workdir>/home`, one per sandbox.",
    )
    workdir: str = Field(
        "", description="Folder for runtime files (X cookie, VNC password, logs); empty: temp."
    )
    credential_file: str = Field(
        "",
        description="File holding the credential the executors require of every call, read "
        "and deleted at start (it must not stay readable by the desktop user); empty: one is "
        "generated and reported in the ready report.",
    )
    ready_file: str = Field(
        "",
        description="Write the ready report (a `SandboxReady` in proto3 JSON: addresses, "
        "display, generated secrets) to this file.",
    )
    ready_timeout_seconds: float = Field(
        30.0, gt=0, le=600, description="Give up when not ready after this long."
    )

    @field_validator("vnc_host")
    @classmethod
    def _vnc_host_is_an_address(cls, value: str) -> str:
        # VNC servers take one address to bind, not a name that may resolve to several.
        ipaddress.ip_address(value)
        return value

    @field_validator("executor_python")
    @classmethod
    def _executor_python_is_absolute(cls, value: str) -> str:
        # The executors start in the user's home, and the check that the user can run it
        # from the root folder: a relative path would name another file.
        return os.path.abspath(value) if value else value
