"""The sessions of one orchestrator replica: creating them, running the ones it owns
(`leases` decides which), ending and deleting them. A session taken over from a replica
that died is rebuilt from its events and continues. Commands go through `commands` to
whichever replica owns the session.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import uuid

from deskpilot.bus import (
    SCREENSHOTS_BUCKET,
    Bus,
    EventOrderConflict,
    EventStoreFull,
)
from deskpilot.common.client_tokens import TokenFile
from deskpilot.common.errors import (
    AlreadyExists,
    FailedPrecondition,
    NotFound,
    ResourceExhausted,
    ServiceError,
)
from deskpilot.common.safety_client import SafetyGate
from deskpilot.common.security import channel_credentials
from deskpilot.orchestrator.commands import SessionCommands, until_settled
from deskpilot.orchestrator.events import SessionEvents
from deskpilot.orchestrator.leases import Owned, SessionLeases
from deskpilot.orchestrator.loop import LoopDeps, LoopSettings, SessionLoop
from deskpilot.orchestrator.model import make_client
from deskpilot.orchestrator.model_endpoint import MISSING_KEY, ModelEndpoint
from deskpilot.orchestrator.policy_check import check_safety_policy
from deskpilot.orchestrator.recovery import rebuild
from deskpilot.orchestrator.sandboxes.provider import SandboxProvider, SweepingProvider
from deskpilot.orchestrator.sandboxes.session import SessionSandbox
from deskpilot.orchestrator.sandboxes.slots import SandboxSlots
from deskpilot.orchestrator.sealed_secrets import SecretsSeal
from deskpilot.orchestrator.session_limits import effective
from deskpilot.orchestrator.settings import OrchestratorSettings
from deskpilot.orchestrator.store import SessionStore
from deskpilot.orchestrator.truncation import status_reason
from deskpilot.orchestrator.validation import validated_config
from deskpilot.v1 import events_pb2, orchestrator_pb2, session_pb2

log = logging.getLogger("deskpilot.orchestrator.manager")
S = session_pb2
LIVE = (
    S.SESSION_STATUS_STARTING,
    S.SESSION_STATUS_RUNNING,
    S.SESSION_STATUS_WAITING_CONFIRMATION,
    S.SESSION_STATUS_WAITING_INPUT,
    S.SESSION_STATUS_PAUSED,
)


class SessionManager:
    """Everything a replica does with sessions."""

    def __init__(
        self,
        bus: Bus,
        provider: SandboxProvider,
        settings: OrchestratorSettings,
        *,
        loop_settings: LoopSettings | None = None,
        model: ModelEndpoint | None = None,
    ) -> None:
        self.bus = bus
        self.model = model or ModelEndpoint(base_url="", has_key=True, is_stand_in=False)
        if settings.auth.secrets_key_file is None:
            raise ValueError("auth.secrets_key_file is required: it seals sandboxes' secrets")
        self.store = SessionStore(bus, SecretsSeal.from_file(settings.auth.secrets_key_file))
        self.provider = provider
        self.settings = settings
        self.loop_settings = loop_settings or LoopSettings(
            confirmation_timeout=settings.confirmation_timeout_seconds,
            idle_release_seconds=settings.idle_release_seconds,
            limits=settings.limits(),
        )
        self.gate = SafetyGate(
            settings.safety_address,
            timeout=settings.safety_timeout_seconds,
            token=TokenFile(settings.auth.token_file) if settings.auth.token_file else None,
            credentials=channel_credentials(settings.tls),
        )
        self.slots = SandboxSlots(settings.max_sandboxes)
        self.replica = settings.replica_id
        self.leases = SessionLeases(
            bus,
            settings,
            drive=self._drive,
            control=lambda session_id, data: self.commands.answer(session_id, data),
            live_sessions=lambda: self.store.list(LIVE),
        )
        self.commands = SessionCommands(bus, self.store, self.leases)

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Begin taking over sessions whose owner is gone (and, where sandboxes outlive
        replicas, removing those of sessions that are gone)."""
        self.leases.start()
        if isinstance(self.provider, SweepingProvider):
            self.provider.start_sweeping(self._live_session_ids)

    async def _live_session_ids(self) -> list[str]:
        return [s.id for s in await self.store.list(LIVE)]

    async def stop(self) -> None:
        """Stop running sessions without ending them: their leases run out and another
        replica (or this one, restarted) continues them."""
        await self.leases.stop()
        await self.gate.close()

    # -- API ----------------------------------------------------------------------------------

    async def create(
        self,
        config: session_pb2.SessionConfig,
        request_id: str,
        owner: session_pb2.SessionOwner,
    ) -> S.Session:
        """Store a new session of `owner` and start it; a retried request_id of the same
        tenant returns the same one."""
        config = validated_config(config, self.settings)
        await check_safety_policy(self.gate, config)
        if not self.model.has_key:
            raise FailedPrecondition(MISSING_KEY)
        session_id = _session_id(owner.tenant, request_id)
        if len(self.leases.owned) >= self.settings.max_sessions:
            if request_id:  # a retry of one that was created still gets it
                with contextlib.suppress(NotFound):
                    return (await self.store.get(session_id)).session
            raise ResourceExhausted(
                f"this replica already runs {len(self.leases.owned)} sessions, its limit "
                "(max_sessions); retry later or through another replica"
            )
        with self.leases.claim(session_id):
            return await self._create(session_id, config, request_id, owner)

    async def _create(
        self,
        session_id: str,
        config: session_pb2.SessionConfig,
        request_id: str,
        owner: session_pb2.SessionOwner,
    ) -> S.Session:
        session = S.Session(
            id=session_id,
            config=config,
            status=S.SESSION_STATUS_STARTING,
            model_is_stand_in=self.model.is_stand_in,
            owner=owner,
        )
        try:
            await self.store.create(S.SessionRecord(session=session))
        except AlreadyExists:
            if request_id:
                return (await self.store.get(session_id)).session
            raise
        record = await self.store.get(session_id)
        events = SessionEvents(self.bus, session_id, self.replica)
        try:
            await events.publish(
                0, session_created=events_pb2.SessionCreated(session=record.session)
            )
        except EventStoreFull:
            # The record fitted, its first event did not: take the record back so the
            # refused request leaves nothing behind (if even that is refused, the session
            # starts once there is space, and a retry with its request_id finds it).
            with contextlib.suppress(ServiceError):
                await self.store.delete(session_id)
            raise
        try:
            await self.leases.own(
                session_id, resumed=False, last_sequence=events.last_sequence, claimed=True
            )
        except EventStoreFull:
            log.warning("session %s is stored; it starts once the store has space", session_id)
        return record.session

    async def get(self, session_id: str) -> S.Session:
        return (await self.store.get(session_id)).session

    async def list(self, statuses: list[int]) -> list[S.Session]:
        return await self.store.list(statuses)

    async def command(self, session_id: str, command: orchestrator_pb2.ControlCommand) -> S.Session:
        """Run a command on the session's owner, wherever it is (see `commands`)."""
        return await self.commands.run(session_id, command)

    async def delete(self, session_id: str, keep_history: bool) -> None:
        """Stop the session and its sandbox; drop its events unless asked to keep them."""
        record = await self.store.get(session_id)
        entry = self.leases.owned.get(session_id)
        if entry and entry.loop and entry.task and not entry.task.done():
            with contextlib.suppress(FailedPrecondition):
                entry.loop.cancel("deleted")
            if not await until_settled(entry.task, entry.task, entry.loop):
                # Waiting to record its end in a full store: stop it without that record,
                # which is deleted below anyway (and whose events free the space).
                entry.task.cancel()
            await asyncio.gather(entry.task, return_exceptions=True)
        elif record.session.status in LIVE:
            with contextlib.suppress(ServiceError):
                await self.command(
                    session_id,
                    orchestrator_pb2.ControlCommand(
                        cancel=orchestrator_pb2.CancelRequest(
                            session_id=session_id, reason="deleted"
                        )
                    ),
                )
        if record.sandbox_endpoints.sandbox_id:
            await self.provider.release(record.sandbox_endpoints)
        if not keep_history:
            await self.bus.purge_session_events(session_id)
            await self.bus.delete_objects(SCREENSHOTS_BUCKET, f"{session_id}/")
        await self.store.delete(session_id)

    # -- running ------------------------------------------------------------------------------

    async def _drive(
        self, entry: Owned, resumed: bool, last_sequence: int, only_if_live: bool
    ) -> None:
        """Run an owned session here until it ends or this replica stops running it."""
        give_up = False
        session_id = entry.session_id
        desktop: SessionSandbox | None = None
        client = None
        ended = False
        try:
            try:
                record = await self.store.get(session_id)
            except NotFound:  # deleted meanwhile
                ended = True
                return
            session = record.session
            if only_if_live and session.status not in LIVE:
                ended = True
                return
            conversation: list[dict] = []
            approved: set[str] = set()
            if resumed:
                rebuilt = await rebuild(self.bus, session_id)
                conversation, last_sequence = rebuilt.conversation, rebuilt.last_sequence
                approved = rebuilt.approved
            # The loop starts (or attaches) the sandbox itself, so a session waiting for
            # one can say so in its status, and can be cancelled meanwhile.
            desktop = SessionSandbox(
                session,
                self.provider,
                self.slots,
                max_restarts=self.settings.max_sandbox_restarts,
                max_characters=self.settings.max_result_characters,
                recorded=S.ProvisionedSandbox(
                    endpoints=record.sandbox_endpoints, secrets=record.sandbox_secrets
                ),
                bash_timeout=effective(
                    session.config.limits, self.loop_settings.limits
                ).bash_timeout_seconds,
            )
            client, retries = make_client(max_retries=self.settings.anthropic_max_retries)
            deps = LoopDeps(
                client=client,
                retries=retries,
                gate=self.gate,
                sandbox=desktop,
                bus=self.bus,
                store=self.store,
                events=SessionEvents(self.bus, session_id, self.replica, last_sequence),
                settings=self.loop_settings,
            )
            entry.loop = SessionLoop(session, deps, conversation=conversation, approved=approved)
            entry.ready.set()
            await entry.loop.run(resumed=resumed)
            ended = True
        except asyncio.CancelledError:
            raise
        except EventOrderConflict as exc:
            # Another writer stored events of this session (a replica that still thought
            # it owned it): stop here without recording anything, and let whoever owns the
            # session next continue from the stored history.
            log.error("session %s: %s; stopping it here", session_id, exc)
            give_up = True
        except Exception as exc:
            log.exception("session %s could not run", session_id)
            await self._fail(session_id, f"could not start: {exc}")
            ended = True
        finally:
            entry.ready.set()
            if desktop is not None:
                # An ended session's desktop goes with it; one stopped here for another
                # replica to continue keeps running for that replica.
                await desktop.close(stop=ended)
            await self.leases.disown(entry, release_lease=ended or give_up)
            if client is not None:
                await client.close()

    async def _fail(self, session_id: str, reason: str) -> None:
        """Mark a session that could not run as FAILED, in its record and its events, so
        whoever follows it learns why."""
        previous = S.SESSION_STATUS_UNSPECIFIED

        def mark(record: S.SessionRecord) -> None:
            nonlocal previous
            previous = record.session.status
            record.session.status = S.SESSION_STATUS_FAILED
            record.session.status_reason = status_reason(reason)

        with contextlib.suppress(Exception):
            record = await self.store.update(session_id, mark)
            events = await SessionEvents.resume(self.bus, session_id, self.replica)
            step = record.session.steps
            change = events_pb2.StatusChanged(
                to=S.SESSION_STATUS_FAILED, reason=reason, **{"from": previous}
            )
            await events.publish(step, status_changed=change)
            await events.publish(
                step,
                session_finished=events_pb2.SessionFinished(
                    status=S.SESSION_STATUS_FAILED, reason=reason, usage=record.session.usage
                ),
            )


def _session_id(tenant: str, request_id: str) -> str:
    """Random, or derived from the client's request id so a retried create is idempotent;
    the tenant is part of it, so two tenants' equal request ids make two sessions."""
    if request_id:
        return "s-" + hashlib.sha256(f"{tenant}\0{request_id}".encode()).hexdigest()[:20]
    return "s-" + uuid.uuid4().hex[:20]
