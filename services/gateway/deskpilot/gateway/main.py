"""Running the gateway as a process: settings, logs, serve until a signal, drain."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence

from deskpilot.bus import BusUnavailable
from deskpilot.common.config import settings_or_exit
from deskpilot.common.logs import configure_logging
from deskpilot.common.security import SecurityNotConfigured
from deskpilot.common.signals import stop_event
from deskpilot.gateway.server import GatewayServer
from deskpilot.gateway.settings import GatewaySettings


async def _serve(settings: GatewaySettings) -> None:
    stop = stop_event()
    async with GatewayServer(settings):
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> None:
    settings = settings_or_exit(GatewaySettings, argv)
    configure_logging(settings)
    try:
        asyncio.run(_serve(settings))
    except (SecurityNotConfigured, ValueError) as exc:
        print(f"deskpilot-gateway: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except (BusUnavailable, OSError) as exc:
        print(f"deskpilot-gateway: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
