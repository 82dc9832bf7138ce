"""What `deskpilot up` runs on one machine: nats-server, then every deskpilot service
that is installed, in dependency order, each on its own loopback port.

The display and shell executors are not listed: they run inside each session's sandbox,
which the orchestrator's sandbox provider starts.
"""

from __future__ import annotations

import importlib.util
import os
import stat
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from pydantic import Field

from deskpilot.cli.local_auth import local_auth
from deskpilot.cli.supervisor import (
    CHILD_DEATH_SIGNAL,
    Component,
    HttpProcessComponent,
    NatsComponent,
    ProcessComponent,
)
from deskpilot.common.config import CommonSettings
from deskpilot.common.natsserver import NatsServer


class UpSettings(CommonSettings):
    """Settings of the local stack."""

    service_name: ClassVar[str] = "up"

    host: str = Field("127.0.0.1", description="Address every component binds.")
    data_dir: Path = Field(Path("var"), description="Folder for NATS data and logs.")
    nats_port: int = Field(4222, ge=0, le=65535, description="NATS client port (0: any free).")
    safety_port: int = Field(50053, ge=1, le=65535, description="Safety gate gRPC port.")
    orchestrator_port: int = Field(50051, ge=1, le=65535, description="Orchestrator gRPC port.")
    gateway_port: int = Field(8080, ge=1, le=65535, description="Gateway gRPC port.")
    stand_in: bool = Field(
        False,
        description="Also run the Messages API stand-in playing the scripted demo and point the "
        "orchestrator at it: no API key needed, and no Claude either.",
    )
    stand_in_script: Path | None = Field(
        None, description="Stand-in script (JSON turns) instead of the demo; implies --stand-in."
    )
    stand_in_port: int = Field(8765, ge=1, le=65535, description="Stand-in HTTP port.")
    sandbox_user: str = Field(
        "deskpilot",
        pattern=r"^$|^[a-z_][a-z0-9_-]{0,31}$",
        description="User the sandboxes run as when the stack runs as root; empty keeps root "
        "(only where that user cannot run the Python install).",
    )
    ready_timeout: float = Field(
        30.0, gt=0, le=600, description="Seconds each component may take to become ready."
    )
    grace_seconds: float = Field(
        10.0, ge=0, le=600, description="Seconds each component may take to stop on Ctrl-C."
    )


@dataclass(frozen=True)
class KnownService:
    """A deskpilot service `deskpilot up` can run, once its package is installed."""

    name: str
    module: str
    grpc_service: str
    port_setting: str
    depends_on: tuple[str, ...]

    def installed(self) -> bool:
        """Whether `python -m <module>` can run it."""
        try:
            return importlib.util.find_spec(f"{self.module}.__main__") is not None
        except ModuleNotFoundError:
            return False


KNOWN_SERVICES = (
    KnownService("safety", "deskpilot.safety", "deskpilot.v1.Safety", "safety_port", ("nats",)),
    KnownService(
        "orchestrator",
        "deskpilot.orchestrator",
        "deskpilot.v1.Orchestrator",
        "orchestrator_port",
        ("nats", "safety"),
    ),
    KnownService("gateway", "deskpilot.gateway", "", "gateway_port", ("nats", "orchestrator")),
)


STAND_IN = "standin"
STAND_IN_KEY = "stand-in"  # the stand-in wants some key, as the real API does
MISSING_KEY_NOTICE = (
    "ANTHROPIC_API_KEY is not set, so the orchestrator will refuse sessions: "
    "`export ANTHROPIC_API_KEY=sk-ant-...` (your Anthropic API key) before `deskpilot up` "
    "to use Claude, or run the scripted demo with `deskpilot up --stand-in`"
)


def uses_stand_in(settings: UpSettings) -> bool:
    """Whether the stack runs the Messages API stand-in instead of using Claude."""
    return settings.stand_in or settings.stand_in_script is not None


def api_key_notice(settings: UpSettings, environ: Mapping[str, str]) -> str | None:
    """What to tell a user whose sessions would be refused for want of a key."""
    if uses_stand_in(settings) or environ.get("ANTHROPIC_API_KEY"):
        return None
    return MISSING_KEY_NOTICE


def sandbox_user_notice(settings: UpSettings, python: str = sys.executable) -> str | None:
    """What to tell a root user whose sandbox user cannot run this Python install (e.g.
    one under /root). Sessions would fail to start their sandbox, so `deskpilot up` keeps
    root for local sandboxes then (see `effective_sandbox_user`) and says so."""
    if os.geteuid() != 0 or not settings.sandbox_user:
        return None
    path = Path(python).resolve()
    blocked = next((p for p in path.parents if not p.stat().st_mode & stat.S_IXOTH), None)
    if blocked is None and path.stat().st_mode & stat.S_IXOTH:
        return None
    return (
        f"WARNING: local sandboxes run as root, not as {settings.sandbox_user!r}: that user "
        f"cannot run {path} ({blocked or path} is closed to other users). For unprivileged "
        "sandboxes, install deskpilot where that user can read it (as the sandbox image "
        "does); `--sandbox-user ''` silences this"
    )


def effective_sandbox_user(settings: UpSettings) -> str:
    """The configured sandbox user, or "" (the current user) when it could not run the
    install: a local stack that starts no session would help nobody."""
    return "" if sandbox_user_notice(settings) else settings.sandbox_user


def build_stack(settings: UpSettings, *, text_logs: bool) -> list[Component]:
    """nats-server plus each installed service, wired to it through the environment."""
    nats = NatsComponent(
        NatsServer(
            settings.data_dir / "nats",
            port=settings.nats_port,
            host=settings.host,
            die_with_parent=CHILD_DEATH_SIGNAL,
        )
    )
    log_env: dict[str, str | Callable[[], str]] = {
        "DESKPILOT_LOG_LEVEL": settings.log_level,
        "DESKPILOT_LOG_FORMAT": "text" if text_logs else "json",
    }
    components: list[Component] = [nats]
    if uses_stand_in(settings):
        components.append(_stand_in(settings, log_env))
    installed = [s for s in KNOWN_SERVICES if s.installed()]
    names = {c.name for c in components} | {s.name for s in installed}
    for service in installed:
        port = getattr(settings, service.port_setting)
        components.append(
            ProcessComponent(
                name=service.name,
                argv=[
                    sys.executable,
                    "-m",
                    service.module,
                    *_bind_flags(settings.host, port),
                    *_service_flags(service.name, settings),
                ],
                address=f"{settings.host}:{port}",
                health_service=service.grpc_service,
                env={
                    "DESKPILOT_NATS_URL": lambda: nats.address,
                    **log_env,
                    **_service_env(service.name, settings),
                    # Paths to its key and token files (`deskpilot up` writes them first).
                    **local_auth(settings.data_dir).service_env(service.name),
                },
                depends_on=tuple(
                    d
                    for d in (*service.depends_on, *_extra_dependencies(service.name, settings))
                    if d in names
                ),
            )
        )
    return components


def _stand_in(settings: UpSettings, log_env: dict[str, str | Callable[[], str]]) -> Component:
    script = ["--script", str(settings.stand_in_script)] if settings.stand_in_script else []
    return HttpProcessComponent(
        name=STAND_IN,
        argv=[
            sys.executable,
            "-m",
            "deskpilot.cli.demo",
            *_bind_flags(settings.host, settings.stand_in_port),
            *script,
        ],
        address=f"{settings.host}:{settings.stand_in_port}",
        env=dict(log_env),
    )


def _service_flags(name: str, settings: UpSettings) -> list[str]:
    if name == "orchestrator":
        return [
            "--safety-address", f"{settings.host}:{settings.safety_port}",
            "--sandbox.local.user", effective_sandbox_user(settings),
        ]  # fmt: skip
    return []


def _service_env(name: str, settings: UpSettings) -> dict[str, str]:
    if name == "orchestrator" and uses_stand_in(settings):
        return {
            "ANTHROPIC_BASE_URL": f"http://{settings.host}:{settings.stand_in_port}",
            "ANTHROPIC_API_KEY": STAND_IN_KEY,
        }
    return {}


def _extra_dependencies(name: str, settings: UpSettings) -> tuple[str, ...]:
    return (STAND_IN,) if name == "orchestrator" and uses_stand_in(settings) else ()


def missing_services() -> list[str]:
    """Services not installed yet, so `deskpilot up` can say what it is not running."""
    return [s.name for s in KNOWN_SERVICES if not s.installed()]


def _bind_flags(host: str, port: int) -> list[str]:
    return ["--host", host, "--port", str(port)]
