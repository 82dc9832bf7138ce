"""One session's desktop as its loop sees it: there when the loop acts, and replaced by a
fresh one when it is gone.

- `ensure()` before a step: attaches the sandbox the record names, or takes a slot (queuing
  when all are in use, with the place in the queue as the session's status reason) and
  starts a fresh one.
- A sandbox that stops by itself (killed, or its X server or an executor died) is noticed
  through the provider; the session lets it go and the next step gets a fresh desktop.
  After `max_restarts` such losses the session fails instead, with the reason.
- `release_idle()`: a session waiting for input gives its sandbox back; the next message
  brings a fresh one.
- `reattach()` after a takeover or restart: the recorded sandbox if it still answers; one
  that is gone is let go (`gone_reason`), and a session only waiting for a message starts
  no new one until that message comes.

Whenever the desktop is a fresh one in a session that had one, the model is told (a note
in its next turn): files, windows and shell state from before are gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import grpc

from deskpilot.orchestrator.sandboxes.client import (
    BASH_TIMEOUT_SECONDS,
    ExecutorUnavailable,
    SandboxClient,
    ToolOutcome,
    view_limit,
)
from deskpilot.orchestrator.sandboxes.provider import SandboxProvider
from deskpilot.orchestrator.sandboxes.slots import SandboxSlots
from deskpilot.orchestrator.tools import TOOL_SETS, Executor
from deskpilot.orchestrator.truncation import DEFAULT_MAX_RESULT_CHARACTERS
from deskpilot.v1 import common_pb2, display_pb2, session_pb2

log = logging.getLogger("deskpilot.orchestrator.sandbox")

# After an executor call fails, how long to wait for the provider to report the sandbox
# gone (a sandbox whose executor died stops itself, which takes a moment).
LOSS_GRACE_SECONDS = 5.0
_INFO_TIMEOUT_SECONDS = 30.0
RESET_NOTE = (
    "This is a fresh desktop: {why}. Files, windows and shell state from before are gone; "
    "take a screenshot before acting."
)


class SandboxGone(Exception):
    """The session cannot have a sandbox; it ends with this reason."""


@dataclass
class SandboxHooks:
    """What the desktop needs from the session's loop."""

    save: Callable[[], Awaitable[None]]  # store the session (its sandbox endpoints changed)
    queued: Callable[[str], Awaitable[None]]  # the status reason while waiting ("" when done)
    note: Callable[[str], None]  # tell the model at its next turn


class FixedSandbox:
    """A sandbox that is simply there (tests and benchmarks with their own executors)."""

    def __init__(self, client: SandboxClient, screen_size: tuple[int, int]) -> None:
        self.client = client
        self.screen_size = screen_size
        self.held = False  # nothing to release when idle
        self.recorded = True
        self.sandbox = session_pb2.ProvisionedSandbox()  # none known: nothing to record
        self.gone_reason = ""  # it is never lost
        self.max_characters = client.max_characters

    def view_limit(self) -> int | None:
        return self.client.view_limit()

    def bind(self, hooks: SandboxHooks) -> None:
        pass

    async def ensure(self) -> None:
        pass

    async def reattach(self) -> None:
        pass

    async def release_idle(self, idle_seconds: float) -> None:
        pass

    async def run(
        self, executor: Executor, call: common_pb2.ToolCall, idempotency_key: str
    ) -> ToolOutcome:
        return await self.client.run(executor, call, idempotency_key)

    async def screenshot(self) -> common_pb2.Image:
        return await self.client.screenshot()

    async def ui_for(self, call: common_pb2.ToolCall) -> common_pb2.UiContext | None:
        return await self.client.ui_for(call)


class SessionSandbox:
    """The desktop of one session on this replica (see the module doc)."""

    def __init__(
        self,
        session: session_pb2.Session,
        provider: SandboxProvider,
        slots: SandboxSlots,
        *,
        max_restarts: int,
        max_characters: int = DEFAULT_MAX_RESULT_CHARACTERS,
        recorded: session_pb2.ProvisionedSandbox | None = None,
        bash_timeout: float = BASH_TIMEOUT_SECONDS,
    ) -> None:
        """`recorded`: the sandbox the session's record names, where it listens and its
        credentials (from the record)."""
        self.session = session  # the loop's own: its sandbox_id is written into it
        # The session's sandbox: where it listens and its credentials. The loop saves it
        # into the record beside the session, which holds only its id: no user learns
        # where the executors listen, or how to get in.
        self.sandbox = session_pb2.ProvisionedSandbox()
        if recorded is not None:
            self.sandbox.CopyFrom(recorded)
        self.provider = provider
        self.slots = slots
        self.max_restarts = max_restarts
        self.max_characters = max_characters  # the bound of every result the model receives
        self.bash_timeout = bash_timeout  # of one command
        self.screen_size = (0, 0)
        self._hooks: SandboxHooks | None = None
        self._client: SandboxClient | None = None
        # Clients of sandboxes let go while a call was still in flight: closing a channel
        # cancels its calls, which the loop would take for its own cancellation.
        self._retired: list[SandboxClient] = []
        self._calls = 0
        self._watch: asyncio.Task[None] | None = None
        self._gone: asyncio.Event = asyncio.Event()
        self._lost_reason = ""
        self._losses = 0
        # Why the session has no desktop now, when it lost one (shown while it waits).
        self.gone_reason = ""
        # Why the next desktop is a fresh one, for the model; empty when it is the first.
        self._fresh_because = (
            "the one this session used before was stopped while the session waited or ended"
            if session.steps and not self.sandbox.endpoints.display_address
            else ""
        )

    def bind(self, hooks: SandboxHooks) -> None:
        self._hooks = hooks

    def view_limit(self) -> int | None:
        """The editor's max_characters for this session's tool set (see SandboxClient)."""
        return view_limit(TOOL_SETS[self.session.config.tool_set], self.max_characters)

    @property
    def held(self) -> bool:
        """Whether a sandbox is running for the session right now."""
        return self._client is not None

    @property
    def recorded(self) -> bool:
        """Whether the session's record names a sandbox (to attach to, after a takeover)."""
        return bool(self.sandbox.endpoints.display_address)

    # -- getting one ---------------------------------------------------------------------------

    async def ensure(self) -> None:
        """A running sandbox for the next step; SandboxGone if the session cannot have one."""
        if self._client is not None:
            return
        if self._losses > self.max_restarts:
            raise SandboxGone(
                f"the desktop stopped {self._losses} times (last: {self._lost_reason}), more "
                f"than the {self.max_restarts} fresh ones a session may get (max_sandbox_restarts)"
            )
        await self.slots.take(self.session.id, self._report_queue)
        try:
            await self._start()
        except BaseException:
            self.slots.give_back(self.session.id)
            raise

    async def _report_queue(self, position: int, limit: int) -> None:
        queued = f"queued: all {limit} sandboxes are in use (position {position})"
        await self._hook().queued(queued)

    async def reattach(self) -> None:
        """After a takeover or a restart: attach the sandbox the record names. One that is
        gone (it stopped with the replica or machine that ran it) is let go, and `gone_reason`
        says so; nothing new starts until a step needs a desktop (`ensure`)."""
        if self._client is not None or not self.recorded:
            return
        await self.slots.take(self.session.id, self._report_queue)
        try:
            await self._start(fresh=False)
        except BaseException:
            self.slots.give_back(self.session.id)
            raise
        if self._client is None:
            self.slots.give_back(self.session.id)

    async def _start(self, *, fresh: bool = True) -> None:
        """Attach the recorded sandbox, else (with `fresh`) start a new one."""
        hooks = self._hook()
        reported_queue = self.session.status_reason.startswith("queued:")
        if self.recorded:
            await self._attach_recorded()
        if self._client is None and fresh:
            await self._start_fresh()
        if reported_queue:
            await hooks.queued("")
        if self._client is not None:  # the model hears of a fresh desktop once it has one
            if self._fresh_because and self.provider.stops_on_release:
                hooks.note(RESET_NOTE.format(why=self._fresh_because))
            self._fresh_because = ""

    async def _attach_recorded(self) -> None:
        recorded = self.sandbox.endpoints
        try:
            await self._attach(recorded, self.sandbox.secrets)
        except (grpc.aio.AioRpcError, ExecutorUnavailable) as exc:
            # Gone, e.g. stopped with the stack that started it: the next desktop is fresh.
            log.warning(
                "session %s: its sandbox %s is gone (%s)",
                self.session.id, recorded.sandbox_id, _describe(exc),
            )  # fmt: skip
            self.gone_reason = f"sandbox {recorded.sandbox_id} did not answer ({_brief(exc)})"
            self._fresh_because = f"the one this session used before is gone ({self.gone_reason})"
            await self._let_go(recorded)
            self._record(None)
            await self._hook().save()

    async def _start_fresh(self) -> None:
        config = self.session.config
        try:
            sandbox = await self.provider.acquire(
                self.session.id, config.display, config.sandbox_template
            )
        except Exception as exc:
            raise SandboxGone(f"could not start: {_describe(exc)}") from exc
        try:
            await self._attach(sandbox.endpoints, sandbox.secrets)
        except (grpc.aio.AioRpcError, ExecutorUnavailable) as exc:
            await self._let_go(sandbox.endpoints)
            raise SandboxGone(f"could not start: {_describe(exc)}") from exc
        self._record(sandbox)
        await self._hook().save()

    def _record(self, sandbox: session_pb2.ProvisionedSandbox | None) -> None:
        """The session's sandbox is now `sandbox` (None: it has none)."""
        self.sandbox.Clear()
        if sandbox is not None:
            self.sandbox.CopyFrom(sandbox)
        self.session.sandbox_id = self.sandbox.endpoints.sandbox_id

    async def _attach(
        self, endpoints: session_pb2.SandboxEndpoints, secrets: session_pb2.SandboxSecrets
    ) -> None:
        client = SandboxClient(
            endpoints,
            TOOL_SETS[self.session.config.tool_set],
            credential=secrets.executor_credential,
            max_characters=self.max_characters,
            bash_timeout=self.bash_timeout,
        )
        try:
            info: display_pb2.GetInfoResponse = await client.info()
        except BaseException:
            await client.close()
            raise
        self._client = client
        self.gone_reason = ""
        self.screen_size = (info.scaled_size.width, info.scaled_size.height)
        self._gone = asyncio.Event()
        watched = session_pb2.SandboxEndpoints()
        watched.CopyFrom(endpoints)
        self._watch = asyncio.create_task(self._watch_for_loss(watched))

    # -- losing it -----------------------------------------------------------------------------

    async def _watch_for_loss(self, endpoints: session_pb2.SandboxEndpoints) -> None:
        reason = await self.provider.wait_gone(endpoints)
        self._watch = None  # this task ends here; nothing to cancel
        if reason is None:
            return  # the provider cannot tell; an executor error is all we learn
        log.warning("session %s lost its sandbox: %s", self.session.id, reason)
        self._losses += 1
        self._lost_reason = reason
        self.gone_reason = reason
        self._fresh_because = f"the previous one stopped ({reason})"
        self._gone.set()
        await self._drop(endpoints)

    async def _drop(self, endpoints: session_pb2.SandboxEndpoints) -> None:
        """Forget the current sandbox: no client, no slot, no endpoints in the record.

        Everything that a concurrent `ensure()` looks at changes before the first await, so
        a fresh sandbox started meanwhile keeps its slot and its endpoints."""
        client, self._client = self._client, None
        self.slots.give_back(self.session.id)
        recorded = self.sandbox.endpoints.sandbox_id == endpoints.sandbox_id
        if recorded:
            self._record(None)
        if client is not None:
            self._retired.append(client)
            await self._close_retired()
        await self._let_go(endpoints)
        if recorded:
            await self._hook().save()

    async def _let_go(self, endpoints: session_pb2.SandboxEndpoints) -> None:
        with contextlib.suppress(Exception):  # stopping what is gone is best effort
            await self.provider.release(endpoints)

    async def _stop_watching(self) -> None:
        watch, self._watch = self._watch, None
        if watch is not None:
            watch.cancel()
            await asyncio.gather(watch, return_exceptions=True)

    # -- giving it back ------------------------------------------------------------------------

    async def release_idle(self, idle_seconds: float) -> None:
        """The session waits for input: stop its sandbox; the next step gets a fresh one."""
        if self._client is None:
            return
        await self._stop_watching()
        endpoints = session_pb2.SandboxEndpoints()
        endpoints.CopyFrom(self.sandbox.endpoints)
        await self._drop(endpoints)
        self._fresh_because = (
            f"the previous one was stopped after {idle_seconds:g} s without a message"
        )
        log.info("session %s released its sandbox after %g s idle", self.session.id, idle_seconds)

    async def close(self, *, stop: bool) -> None:
        """The loop is done here. `stop`: the session ended, so its sandbox goes too (else
        another replica continues the session and keeps the sandbox)."""
        await self._stop_watching()
        if stop and self._client is not None:
            endpoints = session_pb2.SandboxEndpoints()
            endpoints.CopyFrom(self.sandbox.endpoints)
            with contextlib.suppress(Exception):  # the session has ended either way
                await self._drop(endpoints)
        client, self._client = self._client, None
        if client is not None:
            self._retired.append(client)
        await self._close_retired()
        self.slots.give_back(self.session.id)

    async def _close_retired(self) -> None:
        if self._calls == 0:
            retired, self._retired = self._retired, []
            for client in retired:
                await client.close()

    # -- using it ------------------------------------------------------------------------------

    async def run(
        self, executor: Executor, call: common_pb2.ToolCall, idempotency_key: str
    ) -> ToolOutcome:
        client = self._client
        if client is None:
            raise ExecutorUnavailable(f"the desktop is gone ({self._lost_reason or 'released'})")
        self._calls += 1
        try:
            return await client.run(executor, call, idempotency_key)
        except ExecutorUnavailable as exc:
            raise ExecutorUnavailable(await self._explained(exc)) from exc
        finally:
            self._calls -= 1
            await self._close_retired()

    async def screenshot(self) -> common_pb2.Image:
        client = self._client
        if client is None:
            raise ExecutorUnavailable("the desktop is gone")
        self._calls += 1
        try:
            return await client.screenshot()
        finally:
            self._calls -= 1
            await self._close_retired()

    async def ui_for(self, call: common_pb2.ToolCall) -> common_pb2.UiContext | None:
        """See SandboxClient.ui_for; unavailable while the desktop is gone."""
        client = self._client
        if client is None:
            return common_pb2.UiContext(available=False)
        self._calls += 1
        try:
            return await client.ui_for(call)
        finally:
            self._calls -= 1
            await self._close_retired()

    async def _explained(self, exc: ExecutorUnavailable) -> str:
        """The failure, with the loss of the sandbox when that is what it was."""
        if self._watch is not None:
            gone = asyncio.ensure_future(self._gone.wait())
            try:
                await asyncio.wait({gone}, timeout=LOSS_GRACE_SECONDS)
            finally:
                gone.cancel()
        if self._gone.is_set():
            return f"{exc}; the desktop stopped ({self._lost_reason})"
        return str(exc)

    def _hook(self) -> SandboxHooks:
        if self._hooks is None:
            raise RuntimeError("SessionSandbox.bind() was not called")
        return self._hooks


def _describe(exc: BaseException) -> str:
    """One line for people (an AioRpcError's str is a multi-line dump)."""
    if isinstance(exc, grpc.aio.AioRpcError):
        return f"{exc.code().name}: {exc.details()}"
    return str(exc)


def _brief(exc: BaseException) -> str:
    """A few words, for a status reason: the gRPC code, or the error itself."""
    if isinstance(exc, grpc.aio.AioRpcError):
        return exc.code().name
    return str(exc)
