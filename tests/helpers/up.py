"""Running `deskpilot up` as a user's terminal would."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from deskpilot.cli.components import NATS, component
from deskpilot.cli.stack import LOCAL_STACK
from deskpilot.common.net import free_port

READY = "all components ready"


def free_ports() -> dict[str, int]:
    """A free port for each component of the local stack but nats-server, which picks
    its own (`--nats-port 0`)."""
    return {c.name: free_port() for c in LOCAL_STACK if c.port is not None and c.name != NATS}


def up_command(data_dir: Path, *extra: str, ports: dict[str, int] | None = None) -> list[str]:
    """`deskpilot up` on `ports` (default: free ones) with its data in `data_dir`."""
    ports = free_ports() if ports is None else ports
    return [
        sys.executable, "-m", "deskpilot.cli", "up", "--data-dir", str(data_dir),
        "--nats-port", "0",
        *(arg for name, port in ports.items() for arg in (_port_flag(name), str(port))),
        *extra,
    ]  # fmt: skip


def _port_flag(name: str) -> str:
    port = component(name).port
    assert port is not None, f"{name} has no port in the local stack"
    return "--" + port.setting.replace("_", "-")


async def read_until(stream: asyncio.StreamReader, text: str, log: list[str]) -> None:
    """Read lines into `log` until one holds `text`; AssertionError at end of output."""
    while not any(text in line for line in log):
        line = await asyncio.wait_for(stream.readline(), 120)
        assert line, "deskpilot up ended early:\n" + "".join(log)
        log.append(line.decode())
