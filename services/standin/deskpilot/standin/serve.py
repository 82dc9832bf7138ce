"""Running the stand-in as a process: settings, logs, the script, serve until a signal."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path

from pydantic import ValidationError

from deskpilot.common.config import settings_or_exit
from deskpilot.common.logs import configure_logging
from deskpilot.common.signals import stop_event
from deskpilot.standin.script import Script
from deskpilot.standin.server import StandInServer
from deskpilot.standin.settings import StandInSettings


async def _serve(server: StandInServer) -> None:
    stop = stop_event()
    async with server:
        await stop.wait()


def serve_main(
    default_script: Callable[[], Script],
    name: str,
    script_from_file: Callable[[Path], Script] = Script.from_file,
) -> None:
    """Serve `--script FILE` (read by `script_from_file`), or `default_script()` without
    one, until SIGTERM/SIGINT."""
    settings = settings_or_exit(StandInSettings)
    configure_logging(settings, service="standin")
    try:
        script = script_from_file(settings.script) if settings.script else default_script()
    except (OSError, ValueError, ValidationError) as exc:
        print(f"{name}: cannot load script {settings.script}: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    server = StandInServer(
        script,
        host=settings.host,
        port=settings.port,
        min_cacheable_tokens=settings.min_cacheable_tokens,
    )
    asyncio.run(_serve(server))
