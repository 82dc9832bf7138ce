"""`python -m deskpilot.standin --script turns.json --port 8765`: serve until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import signal
import sys

from pydantic import ValidationError

from deskpilot.common.config import settings_or_exit
from deskpilot.common.logs import configure_logging
from deskpilot.standin.script import Script
from deskpilot.standin.server import StandInServer
from deskpilot.standin.settings import StandInSettings


async def _serve(server: StandInServer) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main() -> None:
    settings = settings_or_exit(StandInSettings)
    configure_logging(settings)
    try:
        script = Script.from_file(settings.script) if settings.script else Script()
    except (OSError, ValueError, ValidationError) as exc:
        print(f"deskpilot-standin: cannot load script {settings.script}: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    server = StandInServer(
        script,
        host=settings.host,
        port=settings.port,
        min_cacheable_tokens=settings.min_cacheable_tokens,
    )
    asyncio.run(_serve(server))


if __name__ == "__main__":
    main()
