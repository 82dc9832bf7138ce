"""What the routes share: the checks, the orchestrator, the bus, the desktop proxy, the
page's files, and whether the gateway is draining."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deskpilot.bus import Bus
from deskpilot.gateway.auth import Gatekeeper
from deskpilot.gateway.control_follower import ControlFollower
from deskpilot.gateway.desktop import DesktopHubs
from deskpilot.gateway.orchestrator import Orchestrator
from deskpilot.gateway.settings import GatewaySettings

WEB_DIR = Path(__file__).parent / "web"


@dataclass
class App:
    """The gateway's collaborators, built once by the server."""

    settings: GatewaySettings
    gatekeeper: Gatekeeper
    orchestrator: Orchestrator
    bus: Bus
    desktops: DesktopHubs
    control: ControlFollower
    draining: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def web_dir(self) -> Path:
        return self.settings.web_dir or WEB_DIR

    @property
    def vendor_dir(self) -> Path:
        return self.settings.vendor_dir or self.web_dir / "vendor"
