"""What `deskpilot up` runs on one machine: nats-server, then every deskpilot service
that is installed, in dependency order, each on its own loopback port.

The display and shell executors are not listed: they run inside each session's sandbox,
which the orchestrator's sandbox provider starts.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from pydantic import Field

from deskpilot.cli.supervisor import Component, NatsComponent, ProcessComponent
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


def build_stack(settings: UpSettings, *, text_logs: bool) -> list[Component]:
    """nats-server plus each installed service, wired to it through the environment."""
    nats = NatsComponent(
        NatsServer(settings.data_dir / "nats", port=settings.nats_port, host=settings.host)
    )
    components: list[Component] = [nats]
    installed = [s for s in KNOWN_SERVICES if s.installed()]
    names = {"nats", *(s.name for s in installed)}
    for service in installed:
        port = getattr(settings, service.port_setting)
        components.append(
            ProcessComponent(
                name=service.name,
                argv=[sys.executable, "-m", service.module, *_bind_flags(settings.host, port)],
                address=f"{settings.host}:{port}",
                health_service=service.grpc_service,
                env={
                    "DESKPILOT_NATS_URL": lambda: nats.address,
                    "DESKPILOT_LOG_LEVEL": settings.log_level,
                    "DESKPILOT_LOG_FORMAT": "text" if text_logs else "json",
                },
                depends_on=tuple(d for d in service.depends_on if d in names),
            )
        )
    return components


def missing_services() -> list[str]:
    """Services not installed yet, so `deskpilot up` can say what it is not running."""
    return [s.name for s in KNOWN_SERVICES if not s.installed()]


def _bind_flags(host: str, port: int) -> list[str]:
    return ["--host", host, "--port", str(port)]
