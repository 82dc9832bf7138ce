"""Which sessions this replica runs: owning them through leases, and taking over those
whose owner died.

A replica runs a session only while it holds the session's lease in the KV bucket,
renewing it every third of its lifetime; a lost lease stops the session here at once. A
replica that dies (kill -9) stops renewing; after the lease runs out another replica's
scan acquires it (compare-and-set, so exactly one wins) and continues the session. While
it owns a session, the replica also serves the session's control subject, where commands
arrive from whichever replica received them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from deskpilot.bus import Bus, Subscription, control_subject
from deskpilot.bus.kv import LeaseHandle, LeaseLost
from deskpilot.common.cancellation import raise_if_cancelled
from deskpilot.common.errors import FailedPrecondition
from deskpilot.orchestrator.settings import OrchestratorSettings
from deskpilot.v1 import session_pb2

if TYPE_CHECKING:
    from deskpilot.orchestrator.loop import SessionLoop

log = logging.getLogger("deskpilot.orchestrator.leases")


@dataclass
class Owned:
    """A session this replica runs."""

    session_id: str
    lease: LeaseHandle
    task: asyncio.Task[None] | None = None  # runs the session (see `Drive`)
    loop: SessionLoop | None = None  # set by the task once the session runs
    ready: asyncio.Event = field(default_factory=asyncio.Event)  # `loop` is set, or never will be
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    control: Subscription | None = None


# Runs an owned session until it ends or is stopped here:
# (entry, resumed, last_sequence, only_if_live); it calls `disown` when done.
Drive = Callable[[Owned, bool, int, bool], Awaitable[None]]
# Answers one command for a session: (session_id, request bytes) -> reply bytes.
Control = Callable[[str, bytes], Awaitable[bytes]]
LiveSessions = Callable[[], Awaitable[list[session_pb2.Session]]]


class SessionLeases:
    """The sessions one replica owns, and the scan that takes over ownerless ones."""

    def __init__(
        self,
        bus: Bus,
        settings: OrchestratorSettings,
        *,
        drive: Drive,
        control: Control,
        live_sessions: LiveSessions,
    ) -> None:
        self.bus = bus
        self.settings = settings
        self.replica = settings.replica_id
        self._drive = drive
        self._control = control
        self._live_sessions = live_sessions
        self.owned: dict[str, Owned] = {}
        # Ids being taken right now: claimed before any await, so the takeover scan and
        # CreateSession can never both start a loop for one session.
        self._claiming: set[str] = set()
        self._scanner: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin taking over sessions whose owner is gone."""
        self._scanner = asyncio.create_task(self._scan_forever())

    async def stop(self) -> None:
        """Stop running sessions without ending them: their leases run out and another
        replica (or this one, restarted) continues them."""
        if self._scanner:
            self._scanner.cancel()
        owned = list(self.owned.values())
        for entry in owned:
            if entry.task:
                entry.task.cancel()
        await asyncio.gather(*(e.task for e in owned if e.task), return_exceptions=True)

    @contextlib.contextmanager
    def claim(self, session_id: str) -> Iterator[None]:
        """Hold `session_id` while the caller creates it (then `own(..., claimed=True)`);
        FailedPrecondition while another claim holds it."""
        if session_id in self._claiming:
            raise FailedPrecondition(f"session {session_id} is being created; retry shortly")
        self._claiming.add(session_id)
        try:
            yield
        finally:
            self._claiming.discard(session_id)

    async def own(
        self,
        session_id: str,
        *,
        resumed: bool,
        last_sequence: int = 0,
        claimed: bool = False,
        only_if_live: bool = False,
    ) -> bool:
        """Take the session's lease and run it here; False if another replica holds it.

        `claimed`: the caller holds the id's `claim` (CreateSession does).
        `only_if_live`: the takeover scan's view may be stale; drop a session that ended
        (or was deleted) before the lease was ours instead of reviving it.
        """
        if session_id in self.owned or (session_id in self._claiming and not claimed):
            return session_id in self.owned
        if len(self.owned) >= self.settings.max_sessions:
            return False
        self._claiming.add(session_id)
        try:
            lease = await self.bus.acquire_lease(
                f"session.{session_id}", self.replica, self.settings.lease_seconds
            )
        finally:
            if not claimed:
                self._claiming.discard(session_id)
        if lease is None:
            return False
        entry = Owned(session_id, lease)
        self.owned[session_id] = entry
        entry.control = await self.bus.serve_requests(
            control_subject(session_id), lambda data: self._control(session_id, data)
        )
        entry.tasks.append(asyncio.create_task(self._renew(entry)))
        entry.task = asyncio.create_task(self._drive(entry, resumed, last_sequence, only_if_live))
        return True

    async def disown(self, entry: Owned, *, release_lease: bool) -> None:
        """Stop serving the session here; `release_lease`: it ended, so nobody needs to
        wait for the lease to run out."""
        for task in entry.tasks:
            task.cancel()
        if entry.control is not None:
            with contextlib.suppress(Exception):
                await entry.control.unsubscribe()
        if release_lease:
            with contextlib.suppress(Exception):
                await self.bus.release_lease(entry.lease)
        self.owned.pop(entry.session_id, None)

    async def _renew(self, entry: Owned) -> None:
        """Keep the lease; if it is lost, stop running the session at once."""
        while True:
            raise_if_cancelled()  # renewing after a stop would block every takeover
            await asyncio.sleep(self.settings.lease_seconds / 3)
            try:
                entry.lease = await self.bus.renew_lease(entry.lease)
            except LeaseLost:
                log.warning("lost the lease of session %s; stopping it here", entry.session_id)
                if entry.task:
                    entry.task.cancel()
                return
            except Exception:  # NATS briefly away: try again at the next tick
                log.warning("could not renew the lease of %s", entry.session_id, exc_info=True)

    async def _scan_forever(self) -> None:
        """Take over live sessions that nobody owns any more."""
        while True:
            try:
                for session in await self._live_sessions():
                    if session.id not in self.owned:
                        await self.own(session.id, resumed=True, only_if_live=True)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("session scan failed", exc_info=True)
            raise_if_cancelled()
            await asyncio.sleep(self.settings.lease_seconds / 2)
