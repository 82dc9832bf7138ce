"""Who connects where: the session's desktop (from the orchestrator) and the viewer."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class DesktopAccess:
    """From the orchestrator's GetDesktopAccess RPC."""

    address: str  # "host:port" of the session's VNC server ("[v6]:port" for IPv6)
    password: str = field(repr=False)  # its VncAuth password
    sandbox_id: str

    def host_port(self) -> tuple[str, int]:
        host, _, port = self.address.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"VNC address {self.address!r} is not host:port")
        return host.strip("[]"), int(port)


@dataclass(frozen=True)
class Viewer:
    """One authenticated person watching a session."""

    name: str  # the token's subject
    may_control: bool  # False for view-only tokens: their input is always dropped
