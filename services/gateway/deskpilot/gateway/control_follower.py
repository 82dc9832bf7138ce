"""Keeps the desktop proxy's controller in step with each session's control lease,
whoever changed it: a person on this page, the CLI (`deskpilot take`), another gateway
replica. While a session has viewers here, its events are followed with the gateway's
own token, and every `control_taken` / `control_released` is handed to the proxy, which
then releases held keys and buttons and lets only the new controller's input through.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from deskpilot.gateway.desktop import DesktopHubs
from deskpilot.gateway.http import Refusal
from deskpilot.gateway.orchestrator import Orchestrator
from deskpilot.v1 import events_pb2

log = logging.getLogger("deskpilot.gateway.control")

# After a lost stream (the orchestrator restarting), wait this long before following again.
RETRY_SECONDS = 1.0


@dataclass
class _Following:
    task: asyncio.Task[None]
    viewers: int = 0


class ControlFollower:
    """One event follower per session that has viewers on this gateway."""

    def __init__(self, orchestrator: Orchestrator, desktops: DesktopHubs) -> None:
        self._orchestrator = orchestrator
        self._desktops = desktops
        self._following: dict[str, _Following] = {}

    @contextlib.asynccontextmanager
    async def watching(self, session_id: str) -> AsyncIterator[None]:
        """While the block runs, the session's lease changes reach the proxy."""
        following = self._following.get(session_id)
        if following is None:
            following = _Following(asyncio.create_task(self._follow(session_id)))
            self._following[session_id] = following
        following.viewers += 1
        try:
            yield
        finally:
            following.viewers -= 1
            if following.viewers == 0:
                self._following.pop(session_id, None)
                following.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await following.task

    async def close(self) -> None:
        for following in list(self._following.values()):
            following.task.cancel()
        self._following.clear()

    async def _follow(self, session_id: str) -> None:
        # The whole history, then live: the last lease event decides, and the proxy is
        # told only when the controller changes.
        controller: str | None = None
        next_sequence = 1
        while True:
            try:
                stream = self._orchestrator.gateway_events(session_id, next_sequence)
                async for reply in stream:
                    event = reply.event
                    next_sequence = event.sequence + 1
                    now = _controller_after(event, controller)
                    if now != controller:
                        controller = now
                        await self._desktops.set_controller(session_id, controller)
                return  # the stream ended: the session finished or was deleted
            except Refusal as refusal:
                if refusal.status in (403, 404):
                    return
                log.warning("following session %s: %s", session_id, refusal.reason)
            except Exception:
                log.exception("following session %s failed; trying again", session_id)
            await asyncio.sleep(RETRY_SECONDS)


def _controller_after(event: events_pb2.Event, controller: str | None) -> str | None:
    if event.HasField("control_taken"):
        return event.control_taken.by or None
    if event.HasField("control_released"):
        return None
    return controller
