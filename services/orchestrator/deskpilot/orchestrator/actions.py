"""One model turn's tool calls through the pipeline, each answered by exactly one
tool_result: the safety gate judges the call (while its proposal is published), a person
confirms it when the gate says so, the executor runs it with the idempotency key
`<session>.<tool_use_id>`, the gate scans what comes back while its screenshot is stored,
and the result, bounded, goes back to the model. Every stage is published as an event.

The loop calls `ActionRunner.run(tool_uses)` and gets the results; how events are
published, how a person is asked and when the desktop is free to use are the loop's,
passed in as callables.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from google.protobuf import struct_pb2

from deskpilot.common.cancellation import raise_if_cancelled
from deskpilot.common.safety_client import SafetyGate
from deskpilot.orchestrator import results
from deskpilot.orchestrator.progress import ProgressWatch
from deskpilot.orchestrator.sandboxes.client import NO_OUTPUT, ExecutorUnavailable, ToolOutcome
from deskpilot.orchestrator.sandboxes.session import FixedSandbox, SessionSandbox
from deskpilot.orchestrator.screenshots import SessionScreenshots
from deskpilot.orchestrator.tools import (
    COMPUTER_TOOLSET_NAME,
    TOOL_SETS,
    Executor,
    executor_for,
)
from deskpilot.v1 import common_pb2, events_pb2, safety_pb2, session_pb2

Publish = Callable[..., Awaitable[events_pb2.Event]]
Confirm = Callable[[common_pb2.ToolCall, list[safety_pb2.Reason]], Awaitable[tuple[bool, str]]]
Scans = list[tuple[safety_pb2.ScanContentRequest, safety_pb2.ScanContentResponse]]


@dataclass
class ActionDeps:
    """What the pipeline talks to."""

    gate: SafetyGate
    desktop: SessionSandbox | FixedSandbox
    screenshots: SessionScreenshots
    publish: Publish  # one event of the session (one payload keyword)
    confirm: Confirm  # ask a person: (approved, reason)
    save: Callable[[], Awaitable[None]]  # the session's record (its taint changed)
    may_act: Callable[[], Awaitable[None]]  # returns once no person has the desktop


class ActionRunner:
    """Runs the tool calls of one session, turn after turn."""

    def __init__(
        self,
        session: session_pb2.Session,
        deps: ActionDeps,
        *,
        approved: set[str],
        no_progress_repeats: int,
    ) -> None:
        """`approved`: tool_use ids a person approved before an interruption (they are not
        judged or asked again). `no_progress_repeats`: see ProgressWatch."""
        self.session = session
        self.deps = deps
        self._approved = approved
        self._progress = ProgressWatch(no_progress_repeats)
        # What the gate judges the next call with.
        self.last_screenshot: common_pb2.Image | None = None
        self.previous_call: common_pb2.ToolCall | None = None

    async def run(self, tool_uses: list[dict]) -> list[dict]:
        """Exactly one result per tool_use, in order; after a failure the rest are not run.
        NoProgress when the same action keeps repeating on an unchanged screen."""
        answers: list[dict] = []
        failed = False
        for block in tool_uses:
            member = block.get("toolset_name") == COMPUTER_TOOLSET_NAME
            if failed:
                answer = results.error_result(block["id"], results.NOT_RUN, toolset_member=member)
                await self._publish_result(block["id"], answer, None)
            else:
                answer, ok = await self._run_one(block, member)
                failed = not ok
            answers.append(answer)
        return answers

    async def _run_one(self, block: dict, member: bool) -> tuple[dict, bool]:
        call = tool_call(self.session.config.tool_set, block)
        executor = executor_for(self.session.config.tool_set, call.name, block.get("toolset_name"))
        if executor is None:
            await self.deps.publish(action_proposed=events_pb2.ActionProposed(call=call))
            return await self._refuse(call, f"Unknown tool {call.name!r} for this session.", member)
        if call.tool_use_id in self._approved:
            # A person approved it before the interruption, and it may have run since: judging
            # it again could refuse an action that happened (its key replays the first run).
            refusal = None
        else:
            refusal = await self._judge(call, executor)
        if refusal is not None:
            return await self._refuse(call, refusal, member)
        raise_if_cancelled()
        await self.deps.may_act()  # a person may have taken control meanwhile
        return await self._execute(call, executor, member)

    async def _judge(self, call: common_pb2.ToolCall, executor: Executor) -> str | None:
        """The gate's verdict, and a person's when it asks for one: why the call may not
        run, or None when it may."""
        # The gate judges while the proposal is published; the verdict event follows both.
        _, verdict = await asyncio.gather(
            self.deps.publish(action_proposed=events_pb2.ActionProposed(call=call)),
            self._check(call, executor),
        )
        await self.deps.publish(
            safety_verdict=events_pb2.SafetyVerdict(
                tool_use_id=call.tool_use_id,
                verdict=verdict,
                fail_closed=verdict.fail_closed,
            )
        )
        decision = verdict.decision
        if self.session.tainted and decision == safety_pb2.DECISION_ALLOW:
            decision = safety_pb2.DECISION_CONFIRM  # until a person confirms, nothing runs alone
        if decision == safety_pb2.DECISION_BLOCK:
            reasons = "; ".join(r.message for r in verdict.reasons) or "no reason given"
            return f"Blocked by the safety gate: {reasons}"
        if decision == safety_pb2.DECISION_CONFIRM:
            approved, reason = await self.deps.confirm(call, list(verdict.reasons))
            if not approved:
                why = f" ({reason})" if reason else ""
                return f"The user did not approve this action{why}."
        return None

    async def _check(self, call: common_pb2.ToolCall, executor: Executor) -> safety_pb2.Verdict:
        context = safety_pb2.ActionContext(
            session_id=self.session.id,
            screenshot=self.last_screenshot,
            tainted=self.session.tainted,
            previous_call=self.previous_call,
        )
        # A click is judged by the widget it lands on, typing by the focused field.
        ui = await self.deps.desktop.ui_for(call) if executor is Executor.DISPLAY else None
        if ui is not None:
            context.ui.CopyFrom(ui)
        config = self.session.config
        # The task is the judge's trusted context, as in the scans.
        return await self.deps.gate.check(
            call, context, policy=config.safety_policy, task=config.task
        )

    async def _execute(
        self, call: common_pb2.ToolCall, executor: Executor, member: bool
    ) -> tuple[dict, bool]:
        key = f"{self.session.id}.{call.tool_use_id}"
        try:
            outcome = await self.deps.desktop.run(executor, call, key)
        except ExecutorUnavailable as exc:
            await self.deps.publish(
                action_executed=events_pb2.ActionExecuted(
                    tool_use_id=call.tool_use_id, ok=False, error=str(exc)
                )
            )
            # The call may have reached the executor before it failed: say so, so the model
            # checks instead of assuming nothing happened.
            message = (
                f"The action may or may not have been performed: {exc}. Check the screen or "
                "the state it would change before repeating it."
            )
            return await self._refuse(call, message, member)
        digest = hashlib.sha256(outcome.image.data).hexdigest() if outcome.image else ""
        # The gate reads the result while the screenshot is stored: neither needs the other.
        scans = (
            None if outcome.is_error else asyncio.create_task(self._scan(call, executor, outcome))
        )
        try:
            ref = await self.deps.screenshots.store(call.tool_use_id, outcome.image, digest)
            await self.deps.publish(
                action_executed=events_pb2.ActionExecuted(
                    tool_use_id=call.tool_use_id,
                    ok=not outcome.is_error,
                    error=outcome.text if outcome.is_error else "",
                    latency_ms=outcome.latency_ms,
                    screenshot=ref,
                )
            )
        except BaseException:
            if scans is not None:
                scans.cancel()
            raise
        flagged = False if scans is None else await self._publish_scans(call, await scans)
        answer = results.tool_result(
            call.tool_use_id,
            outcome,
            toolset_member=member,
            flagged=flagged,
            max_characters=self.deps.desktop.max_characters,
        )
        await self._publish_result(call.tool_use_id, answer, ref)
        self.previous_call = call
        if outcome.image is not None:
            self.last_screenshot = outcome.image
        self._progress.note(call, digest if outcome.image is not None else None)
        return answer, not outcome.is_error

    async def _scan(
        self, call: common_pb2.ToolCall, executor: Executor, outcome: ToolOutcome
    ) -> Scans:
        """Scan what the model is about to see (its text and its screenshot, at once)."""
        requests = scan_requests(call, executor, outcome)
        for request in requests:
            # A zoom is not the screen: keep it out of the session's changed-tile cache.
            if not (request.HasField("image") and _is_zoom(call)):
                request.session_id = self.session.id
            request.policy.CopyFrom(self.session.config.safety_policy)
            request.task = self.session.config.task  # the judge's trusted context
        answers = await asyncio.gather(*(self.deps.gate.scan(r) for r in requests))
        return list(zip(requests, answers, strict=True))

    async def _publish_scans(self, call: common_pb2.ToolCall, scans: Scans) -> bool:
        """Publish the scans; True when any flagged the content (the session is tainted)."""
        flagged = False
        for request, scan in scans:
            await self.deps.publish(
                content_scanned=events_pb2.ContentScanned(
                    tool_use_id=call.tool_use_id,
                    source=request.source,
                    injection=scan.injection,
                    score=scan.score,
                    level=scan.level,
                    spans=scan.spans,
                )
            )
            flagged = flagged or scan.injection
        if flagged and not self.session.tainted:
            self.session.tainted = True
            await self.deps.save()
        return flagged

    async def _refuse(
        self, call: common_pb2.ToolCall, message: str, member: bool
    ) -> tuple[dict, bool]:
        answer = results.error_result(
            call.tool_use_id,
            message,
            toolset_member=member,
            max_characters=self.deps.desktop.max_characters,
        )
        await self._publish_result(call.tool_use_id, answer, None)
        return answer, False

    async def _publish_result(
        self, tool_use_id: str, answer: dict, image: common_pb2.ObjectRef | None
    ) -> None:
        text = "\n".join(
            item["text"] for item in answer.get("content", []) if item.get("type") == "text"
        )
        await self.deps.publish(
            tool_result=events_pb2.ToolResult(
                tool_use_id=tool_use_id,
                is_error=bool(answer.get("is_error")),
                text=text,
                images=[image] if image is not None else [],
            )
        )


def tool_call(tool_set: int, block: dict) -> common_pb2.ToolCall:
    """The model's tool_use block as a typed ToolCall (what executors and the gate read)."""
    spec = TOOL_SETS[tool_set]
    name = block["name"]
    executor = executor_for(tool_set, name, block.get("toolset_name"))
    tool_type = {
        Executor.DISPLAY: spec.computer_type,
        Executor.BASH: spec.bash_type,
        Executor.EDITOR: spec.editor_type,
    }.get(executor, "")  # type: ignore[arg-type]
    arguments = struct_pb2.Struct()
    arguments.update(block.get("input") or {})
    return common_pb2.ToolCall(
        tool_use_id=block["id"], name=name, tool_type=tool_type, input=arguments
    )


def scan_requests(
    call: common_pb2.ToolCall, executor: Executor, outcome: ToolOutcome
) -> list[safety_pb2.ScanContentRequest]:
    """What of an outcome the gate scans: its text (by where it came from) and its image."""
    requests = []
    # The placeholder of a silent command is the orchestrator's own text: nothing to scan.
    if outcome.text.strip() and outcome.text != NO_OUTPUT:
        source = {
            Executor.EDITOR: safety_pb2.CONTENT_SOURCE_FILE_TEXT,
            Executor.BASH: safety_pb2.CONTENT_SOURCE_BASH_OUTPUT,
        }.get(executor, safety_pb2.CONTENT_SOURCE_OTHER)  # type: ignore[arg-type]
        requests.append(safety_pb2.ScanContentRequest(text=outcome.text, source=source))
    if outcome.image is not None:
        requests.append(
            safety_pb2.ScanContentRequest(
                image=outcome.image, source=safety_pb2.CONTENT_SOURCE_SCREENSHOT
            )
        )
    return requests


def _is_zoom(call: common_pb2.ToolCall) -> bool:
    action = call.input.fields.get("action")
    return call.name == "zoom" or (action is not None and action.string_value == "zoom")
