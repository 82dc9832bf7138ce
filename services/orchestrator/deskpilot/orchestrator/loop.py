"""The agent loop of one session: the model's turns. Each turn's tool calls go through
the action runner (`actions`); the loop adds the user's messages, keeps the limits, and
takes the commands (messages, confirmations, cancel, take control) that reach the replica
owning the session, through the methods at the bottom of `SessionLoop`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import logging
import time
from dataclasses import dataclass, field

import anthropic
import grpc
from anthropic.types.beta import BetaTextBlockParam

from deskpilot.bus import Bus, EventOrderConflict, EventStoreFull
from deskpilot.common.cancellation import raise_if_cancelled
from deskpilot.common.errors import FailedPrecondition
from deskpilot.common.safety_client import SafetyGate
from deskpilot.orchestrator import results
from deskpilot.orchestrator.actions import ActionDeps, ActionRunner, tool_call
from deskpilot.orchestrator.confirmations import Confirmations
from deskpilot.orchestrator.context import ContextPolicy, count_images
from deskpilot.orchestrator.desk_control import DeskControl
from deskpilot.orchestrator.events import SessionEvents
from deskpilot.orchestrator.inbox import Inbox, UserMessage
from deskpilot.orchestrator.model import (
    RetryReporter,
    add_usage,
    stream_message,
    total_tokens,
    usage_of,
)
from deskpilot.orchestrator.progress import NoProgress
from deskpilot.orchestrator.recorder import SessionRecorder
from deskpilot.orchestrator.recovery import owed_tool_uses
from deskpilot.orchestrator.sandboxes.client import ExecutorUnavailable, SandboxClient
from deskpilot.orchestrator.sandboxes.session import (
    FixedSandbox,
    SandboxGone,
    SandboxHooks,
    SessionSandbox,
)
from deskpilot.orchestrator.screenshots import SessionScreenshots
from deskpilot.orchestrator.session_limits import DEFAULTS as DEFAULT_LIMITS
from deskpilot.orchestrator.session_limits import Limits, effective
from deskpilot.orchestrator.store import SessionStore
from deskpilot.orchestrator.turn_request import model_call
from deskpilot.v1 import events_pb2, session_pb2

log = logging.getLogger("deskpilot.orchestrator.loop")
S = session_pb2


@dataclass
class LoopSettings:
    """Defaults and limits the loop applies where a session does not set its own."""

    context: ContextPolicy = field(default_factory=ContextPolicy)
    confirmation_timeout: float = 600.0
    # The operator's session limits: the defaults, and the most a session may ask for.
    limits: Limits = DEFAULT_LIMITS
    max_output_tokens: int = 4096
    # A session waiting this long for a message gives its sandbox back; 0: never.
    idle_release_seconds: float = 0.0


class _Ended(Exception):
    """The session ends with a status and a reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass
class LoopDeps:
    """What a loop talks to."""

    client: anthropic.AsyncAnthropic
    retries: RetryReporter
    gate: SafetyGate
    sandbox: SessionSandbox | FixedSandbox | SandboxClient
    bus: Bus
    store: SessionStore
    events: SessionEvents
    settings: LoopSettings


class SessionLoop:
    """Runs one session until it ends; `run` returns when it has."""

    def __init__(
        self,
        session: session_pb2.Session,
        deps: LoopDeps,
        *,
        conversation: list[dict] | None = None,
        approved: set[str] | None = None,
        screen_size: tuple[int, int] = (0, 0),
    ) -> None:
        """`approved`: tool_use ids a person approved before an interruption (they are not
        judged or asked again). `screen_size`: the model's screen, for a bare SandboxClient
        in `deps` (a SessionSandbox knows it once it has a sandbox)."""
        self.session = session
        self.deps = deps
        self.conversation: list[dict] = conversation if conversation is not None else []
        sandbox = deps.sandbox
        self.desktop = (
            FixedSandbox(sandbox, screen_size) if isinstance(sandbox, SandboxClient) else sandbox
        )
        self.recorder = SessionRecorder(
            session,
            deps.events,
            deps.store,
            committed=lambda: not self._results_owed(),
            sandbox=lambda: self.desktop.sandbox,
        )
        self._notes: list[str] = []
        self.desktop.bind(
            SandboxHooks(save=self.recorder.save, queued=self._queued, note=self.note)
        )
        self.control = DeskControl(
            session,
            publish=self.recorder.publish,
            set_status=self.recorder.set_status,
            note=self.note,
        )
        self.confirmations = Confirmations(
            session,
            timeout=deps.settings.confirmation_timeout,
            publish=self.recorder.publish,
            set_status=self.recorder.set_status,
        )
        self.actions = ActionRunner(
            session,
            ActionDeps(
                gate=deps.gate,
                desktop=self.desktop,
                screenshots=SessionScreenshots(deps.bus, session.id, self.recorder.write),
                publish=self.recorder.publish,
                confirm=self.confirmations.ask,
                save=self.recorder.save,
                may_act=self.control.agent_may_act,
            ),
            approved=approved or set(),
            no_progress_repeats=effective(
                session.config.limits, deps.settings.limits
            ).no_progress_repeats,
        )
        self._inbox = Inbox()
        self._cancel_reason: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._started = time.monotonic() - _age_seconds(session)

    @property
    def stalled(self) -> EventStoreFull | None:
        """Set while a write waits for space in a full event store: the session holds
        still, loses nothing, and goes on once the store has room."""
        return self.recorder.stalled

    # -- running ------------------------------------------------------------------------------

    async def run(self, *, resumed: bool = False) -> None:
        """Work until the session ends (finished, cancelled or failed).

        `resumed`: the conversation was rebuilt from events after an interruption.
        """
        self._task = asyncio.current_task()
        self.deps.retries.publish = lambda retry: self.recorder.publish(model_retry=retry)
        try:
            if not self.conversation:
                await self._add_user_message(self.session.config.task, "task")
            if not resumed:
                await self._ensure_desktop()
            elif self.desktop.recorded:
                await self.desktop.reattach()  # if it is gone, a fresh one when needed
            if resumed:
                await self._resume()
            elif self.session.status != S.SESSION_STATUS_WAITING_INPUT:
                await self.recorder.set_status(S.SESSION_STATUS_RUNNING, "")
            while True:
                raise_if_cancelled()
                if self._needs_input():
                    await self._wait_for_message()
                await self.control.agent_may_act()
                await self._take_waiting_messages()
                self._check_limits()
                await self._step()
        except (_Ended, NoProgress) as end:
            status = end.status if isinstance(end, _Ended) else S.SESSION_STATUS_FINISHED
            await self._finish(status, str(end))
        except asyncio.CancelledError:
            if self._cancel_reason is None:
                raise  # the replica is stopping: another one takes the session over
            # Handled: recording the end must not stop at the next cancellation check (a
            # further cancel, e.g. of a delete or a stopping replica, still does).
            self._task.uncancel()
            await self._finish(S.SESSION_STATUS_CANCELLED, self._cancel_reason)
        except EventOrderConflict:
            raise  # someone else writes this session: recording anything would be wrong
        except Exception as exc:
            log.exception("session %s failed", self.session.id)
            await self._finish(S.SESSION_STATUS_FAILED, f"internal error: {exc}")

    async def _step(self) -> None:
        """One model turn, then its tool calls; each part is saved as soon as it is done."""
        await self._ensure_desktop()  # a fresh one if it stopped or was given back
        self.session.steps += 1
        self._flush_notes()
        call = model_call(
            self.session.config,
            self.conversation,
            screen_size=self.desktop.screen_size,
            view_limit=self.deps.sandbox.view_limit(),
            context=self.deps.settings.context,
            max_output_tokens=self.deps.settings.max_output_tokens,
        )
        await self.recorder.publish(
            model_request=events_pb2.ModelRequest(
                model=call.model,
                message_count=len(call.messages),
                image_count=count_images(call.messages),
                betas=call.betas,
            )
        )
        message, latency = await stream_message(
            self.deps.client, call, lambda delta: self.recorder.publish(model_delta=delta)
        )
        self.deps.retries.attempt = 0
        usage = usage_of(call.model, message.usage)
        add_usage(self.session.usage, usage)
        content = [block.model_dump(mode="json", exclude_none=True) for block in message.content]
        self.conversation.append({"role": "assistant", "content": content})
        tool_uses = [block for block in content if block["type"] == "tool_use"]
        tool_set = self.session.config.tool_set
        await self.recorder.publish(
            model_response=events_pb2.ModelResponse(
                message_id=message.id,
                stop_reason=message.stop_reason or "",
                text="".join(b.get("text", "") for b in content if b["type"] == "text"),
                thinking="".join(b.get("thinking", "") for b in content if b["type"] == "thinking"),
                tool_calls=[tool_call(tool_set, block) for block in tool_uses],
                usage=usage,
                latency_ms=latency,
                content_json=json.dumps(content),
            )
        )
        await self.recorder.save()
        if tool_uses:
            answers = await self.actions.run(tool_uses)
            self.conversation.append({"role": "user", "content": answers})
            await self.recorder.save()

    async def _resume(self) -> None:
        """Answer the tool calls the interruption left unanswered, then show a fresh screen."""
        owed = owed_tool_uses(self.conversation)
        if owed or self.conversation[-1]["role"] == "user":
            await self._ensure_desktop()
            # The model owes a turn (a message came before the interruption, or a writer
            # that lost the session stored one): it runs now, whatever the record said.
            await self.recorder.set_status(
                S.SESSION_STATUS_RUNNING, "resumed after an interruption"
            )
        if owed:
            answers = await self.actions.run(owed)
            if self.conversation[-1]["role"] == "user":
                self.conversation[-1]["content"].extend(answers)
            else:
                self.conversation.append({"role": "user", "content": answers})
            await self.recorder.save()
        if self.conversation[-1]["role"] != "user":
            return  # the model had finished its turn: nothing to show until a new message
        note = "The session was interrupted and has resumed; this is the screen now."
        content = self.conversation[-1]["content"]
        content.append(BetaTextBlockParam(type="text", text=note))
        with contextlib.suppress(ExecutorUnavailable, grpc.aio.AioRpcError):
            image = await self.desktop.screenshot()
            self.actions.last_screenshot = image
            content.append(results.image_block(image))

    async def _ensure_desktop(self) -> None:
        try:
            await self.desktop.ensure()
        except SandboxGone as gone:
            raise _Ended(S.SESSION_STATUS_FAILED, str(gone)) from None

    async def _queued(self, reason: str) -> None:
        """While the session waits for a sandbox, its status says so (and why)."""
        await self.recorder.set_status(self.session.status, reason)

    def _check_limits(self) -> None:
        limits = effective(self.session.config.limits, self.deps.settings.limits)
        if self.session.steps >= limits.max_steps:
            raise _Ended(S.SESSION_STATUS_FINISHED, f"max_steps reached ({limits.max_steps})")
        if total_tokens(self.session.usage) >= limits.max_tokens:
            raise _Ended(S.SESSION_STATUS_FINISHED, f"max_tokens reached ({limits.max_tokens})")
        if time.monotonic() - self._started >= limits.max_wall_seconds:
            raise _Ended(
                S.SESSION_STATUS_FINISHED,
                f"max_wall_seconds reached ({limits.max_wall_seconds})",
            )

    async def _finish(self, status: int, reason: str) -> None:
        self.confirmations.cancel_all()
        await self.recorder.finish(status, reason)

    # -- the conversation ---------------------------------------------------------------------

    def _needs_input(self) -> bool:
        return not self.conversation or self.conversation[-1]["role"] == "assistant"

    def _results_owed(self) -> bool:
        """Whether the latest model turn has tool calls still waiting for their results
        (its step is committed once they are all in the conversation)."""
        last = self.conversation[-1] if self.conversation else None
        if last is None or last["role"] != "assistant":
            return False
        return any(block["type"] == "tool_use" for block in last["content"])

    def _waiting_reason(self) -> str:
        gone = self.desktop.gone_reason
        if not gone:
            return "the model finished its turn"
        return (
            f"the model finished its turn; its desktop is gone ({gone}), and the next "
            "message starts a fresh one"
        )

    async def _wait_for_message(self) -> None:
        """The model finished its turn: wait for the user's next message."""
        await self.recorder.set_status(S.SESSION_STATUS_WAITING_INPUT, self._waiting_reason())
        raise_if_cancelled()
        idle = self.deps.settings.idle_release_seconds if self.desktop.held else 0
        message = await self._inbox.get(idle_seconds=idle, on_idle=self._release_idle_desktop)
        await self._add_user_message(message.text, message.author)
        try:
            await self.recorder.set_status(S.SESSION_STATUS_RUNNING, "")
        finally:
            # Recorded: whatever happens next, its sender must not send it again.
            message.settle()

    async def _take_waiting_messages(self) -> None:
        """Messages queued while the model owed no turn (e.g. continuing a finished session
        whose last turn was tool results) go into the next request, and the session runs."""
        waiting = self._inbox.take_waiting()
        recorded: list[UserMessage] = []
        try:
            for message in waiting:
                await self._add_user_message(message.text, message.author)
                recorded.append(message)
            if waiting:
                await self.recorder.set_status(S.SESSION_STATUS_RUNNING, "")
        finally:
            for message in recorded:  # the others' senders are told to send them again
                message.settle()

    async def _release_idle_desktop(self) -> None:
        """No message came for idle_release_seconds: give the sandbox back; the next step
        gets a fresh one."""
        idle = self.deps.settings.idle_release_seconds
        await self.desktop.release_idle(idle)
        await self.recorder.set_status(
            S.SESSION_STATUS_WAITING_INPUT,
            f"the model finished its turn; its desktop was stopped after {idle:g} s "
            "without a message, and the next message starts a fresh one",
        )
        raise_if_cancelled()

    async def _add_user_message(self, text: str, author: str) -> None:
        """A user message joins the pending user turn (the API wants roles to alternate),
        as recovery rebuilds it."""
        block = {"type": "text", "text": text}
        if self.conversation and self.conversation[-1]["role"] == "user":
            self.conversation[-1]["content"].append(block)
        else:
            self.conversation.append({"role": "user", "content": [block]})
        await self.recorder.publish(user_message=events_pb2.UserMessage(text=text, author=author))

    def _flush_notes(self) -> None:
        """Notes for the model (e.g. what a person did) join the pending user turn."""
        if self._notes and self.conversation and self.conversation[-1]["role"] == "user":
            content = self.conversation[-1]["content"]
            content.extend(BetaTextBlockParam(type="text", text=note) for note in self._notes)
            self._notes.clear()

    # -- commands (called by the owning replica's control handler) -----------------------------

    def note(self, text: str) -> None:
        """Tell the model `text` at its next turn."""
        self._notes.append(text)

    def send_message(self, text: str, author: str) -> asyncio.Future[None]:
        """Give the waiting model a message; the future is done once it is taken in."""
        if self.session.status != S.SESSION_STATUS_WAITING_INPUT:
            raise FailedPrecondition(
                f"session {self.session.id} is {S.SessionStatus.Name(self.session.status)}; "
                "messages are accepted while it waits for input"
            )
        return self.queue_message(text, author)

    def queue_message(self, text: str, author: str) -> asyncio.Future[None]:
        """A message the model gets as soon as it has finished its current turn; the
        future is done once it is taken in."""
        return self._inbox.put(text, author)

    def resolve_confirmation(
        self, confirmation_id: str, approve: bool, by: str, reason: str
    ) -> asyncio.Future[None]:
        """Answer the pending confirmation; the future is done once the session has
        recorded the answer."""
        return self.confirmations.resolve(confirmation_id, approve, by, reason)

    def cancel(self, reason: str) -> None:
        if self._task is None or self._task.done():
            raise FailedPrecondition(f"session {self.session.id} is not running")
        self._cancel_reason = reason or "cancelled"
        self._task.cancel()

    async def take_control(self, by: str) -> None:
        await self.control.take(by)

    async def release_control(self, by: str, note: str) -> None:
        await self.control.release(by, note)


def _age_seconds(session: session_pb2.Session) -> float:
    if not session.HasField("created_at"):
        return 0.0
    created = session.created_at.ToDatetime(tzinfo=datetime.UTC)
    now = datetime.datetime.now(datetime.UTC)
    return max(0.0, (now - created).total_seconds())
