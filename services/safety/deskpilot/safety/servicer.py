"""The Safety gRPC service: protos in, ActionChecker / ContentScanner, protos out."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
from prometheus_client import Counter, Histogram

from deskpilot.common.errors import FieldViolation, InvalidArgument
from deskpilot.common.struct_values import NonFiniteNumber, struct_to_dict
from deskpilot.safety.action_check import ActionChecker, ActionInputError, ActionSituation
from deskpilot.safety.action_judge import describe, judged, should_ask
from deskpilot.safety.judge import ClaudeJudge
from deskpilot.safety.policy import Policy, PolicyError
from deskpilot.safety.scanner import ContentScanner, ScanResult
from deskpilot.safety.screen_cache import DEFAULT_MAX_PIXELS, ImageError, check_image
from deskpilot.safety.taint import TaintState
from deskpilot.safety.ui_context import snapshot_of
from deskpilot.safety.verdict import Verdict
from deskpilot.v1 import common_pb2, safety_pb2, safety_pb2_grpc

DECISIONS = Counter(
    "deskpilot_safety_decisions_total", "CheckAction verdicts by decision.", ["decision"]
)
JUDGE_ANSWERS = Counter(
    "deskpilot_safety_judge_answers_total",
    "What the second-stage judge made of flagged content.",
    ["answer"],
)
ACTION_JUDGE_ANSWERS = Counter(
    "deskpilot_safety_action_judge_answers_total",
    "What the second-stage judge made of a consequential action in a tainted session.",
    ["answer"],
)
SCAN_SECONDS = Histogram(
    "deskpilot_safety_scan_seconds",
    "ScanContent time by kind.",
    ["kind"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
_LEVELS = {
    "none": safety_pb2.INJECTION_LEVEL_NONE,
    "taint": safety_pb2.INJECTION_LEVEL_TAINT,
    "confirm": safety_pb2.INJECTION_LEVEL_CONFIRM,
}
_SOURCES = {
    safety_pb2.CONTENT_SOURCE_BASH_OUTPUT: "bash output",
    safety_pb2.CONTENT_SOURCE_FILE_TEXT: "a file",
    safety_pb2.CONTENT_SOURCE_SCREENSHOT: "a screenshot",
}


class SafetyServicer(safety_pb2_grpc.SafetyServicer):
    """CheckAction and ScanContent; CPU work runs on a thread pool."""

    def __init__(
        self,
        policy: Policy,
        checker: ActionChecker,
        scanner: ContentScanner,
        workers: int = 2,
        max_image_pixels: int = DEFAULT_MAX_PIXELS,
        judge: ClaudeJudge | None = None,
    ) -> None:
        self.policy = policy
        self.checker = checker
        self.scanner = scanner
        self.judge = judge
        self.max_image_pixels = max_image_pixels
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="safety")

    def _policy(self, override: safety_pb2.SafetyPolicy | None) -> Policy:
        try:
            return self.policy.merged(override)
        except PolicyError as exc:
            if not exc.problems:
                raise InvalidArgument(str(exc)) from None
            violations = [FieldViolation(f"policy.{f}", message) for f, message in exc.problems]
            named = "; ".join(f"{v.field}: {v.description}" for v in violations)
            raise InvalidArgument(
                f"invalid session policy: {named}", violations=violations
            ) from None

    def _check_image(self, data: bytes, where: str) -> None:
        """Refuse bytes that are no image, or too large an image, from the header alone."""
        try:
            check_image(data, self.max_image_pixels)
        except ImageError as exc:
            raise InvalidArgument(f"{where}: {exc}", field=where) from None

    async def CheckAction(
        self, request: safety_pb2.CheckActionRequest, context: grpc.aio.ServicerContext
    ) -> safety_pb2.CheckActionResponse:
        started = time.perf_counter()
        if not request.call.name:
            raise InvalidArgument(
                "call.name is empty: name the tool (bash, computer, …)", field="call.name"
            )
        policy = self._policy(request.policy if request.HasField("policy") else None)
        if request.context.screenshot.data:
            self._check_image(request.context.screenshot.data, "context.screenshot")
        situation = _situation(request.context)
        tool_input = _tool_input(request.call, "call.input") or {}
        loop = asyncio.get_running_loop()
        try:
            verdict = await loop.run_in_executor(
                self._pool, self.checker.check, request.call.name, tool_input, situation, policy
            )
        except ActionInputError as exc:
            raise InvalidArgument(f"{request.call.name}: {exc}", field=exc.field) from None
        report = None
        if self._judges_actions() and should_ask(verdict, situation):
            report = await self._judge_action(request, tool_input, verdict)
            if report is not None:
                verdict = judged(verdict, report)
        DECISIONS.labels(verdict.decision.name.lower()).inc()
        response = safety_pb2.CheckActionResponse(
            verdict=_verdict_proto(verdict), elapsed_ms=(time.perf_counter() - started) * 1000
        )
        if report is not None:
            response.judge.CopyFrom(report)
        return response

    def _judges_actions(self) -> bool:
        return self.judge is not None and self.judge.settings.before_actions

    async def _judge_action(
        self, request: safety_pb2.CheckActionRequest, tool_input: dict, verdict: Verdict
    ) -> safety_pb2.JudgeReport | None:
        """The judge's opinion on whether what flagged the session steers the agent toward
        this action; None when the gate no longer holds that content (the caller's taint
        alone: the local CONFIRM stands)."""
        assert self.judge is not None
        session_id = request.context.session_id
        flagged = self.checker.taint.flagged(session_id)
        if flagged is None or not flagged.excerpt:
            return None
        report = await self.judge.report_action(
            describe(request.call.name, tool_input, verdict),
            flagged.excerpt,
            task=request.task,
            source=flagged.source,
            session_id=session_id,
        )
        if report.over_budget:
            ACTION_JUDGE_ANSWERS.labels("over_budget").inc()
        elif report.injection:
            ACTION_JUDGE_ANSWERS.labels("failed" if report.failed else "steered").inc()
        else:
            ACTION_JUDGE_ANSWERS.labels("not_steered").inc()
        return report

    async def ScanContent(
        self, request: safety_pb2.ScanContentRequest, context: grpc.aio.ServicerContext
    ) -> safety_pb2.ScanContentResponse:
        started = time.perf_counter()
        policy = self._policy(request.policy if request.HasField("policy") else None)
        which = request.WhichOneof("content")
        loop = asyncio.get_running_loop()
        # The session's mark before this scan: restored if the judge clears what it flags.
        before = self.scanner.taint.state(request.session_id)
        try:
            if which == "text":
                source = _SOURCES.get(request.source, "text")
                result = await loop.run_in_executor(
                    self._pool,
                    self.scanner.scan_text,
                    request.text,
                    policy,
                    request.session_id,
                    source,
                )
            elif which == "image":
                if not request.image.data:
                    raise InvalidArgument("image.data is empty", field="image.data")
                self._check_image(request.image.data, "image.data")
                # An unchanged screen is answered here; reading one takes a worker.
                result = self.scanner.unchanged_screen(
                    request.image.data, policy, request.session_id
                ) or await loop.run_in_executor(
                    self._pool,
                    self.scanner.scan_image,
                    request.image.data,
                    policy,
                    request.session_id,
                )
            else:
                raise InvalidArgument("set either text or image to scan")
        except ImageError as exc:
            raise InvalidArgument(f"image.data: {exc}", field="image.data") from None
        except ValueError as exc:
            raise InvalidArgument(str(exc)) from None
        report = None
        if self.judge is not None and result.injection:
            report = await self.judge.report(
                result.text or request.text,
                task=request.task,
                source=_SOURCES.get(request.source, "text"),
                session_id=request.session_id,
            )
            result = self._judged(result, report, request.session_id, before)
        SCAN_SECONDS.labels(which).observe(time.perf_counter() - started)
        response = _scan_response(result, (time.perf_counter() - started) * 1000)
        if report is not None:
            response.judge.CopyFrom(report)
        return response

    def _judged(
        self,
        result: ScanResult,
        report: safety_pb2.JudgeReport,
        session_id: str,
        before: TaintState,
    ) -> ScanResult:
        """The local verdict after the judge: cleared when it finds no steering, raised to
        confirm when it finds some or fails; unchanged when it was not asked."""
        if not report.asked:
            return result
        if report.injection:  # failed answers say injection too
            JUDGE_ANSWERS.labels("failed" if report.failed else "injection").inc()
            return dataclasses.replace(result, level="confirm")
        JUDGE_ANSWERS.labels("cleared").inc()
        self.scanner.taint.restore(session_id, before)
        return dataclasses.replace(result, level="none")

    async def ValidatePolicy(
        self, request: safety_pb2.ValidatePolicyRequest, context: grpc.aio.ServicerContext
    ) -> safety_pb2.ValidatePolicyResponse:
        """The problems CheckAction would refuse the override for (none: it is valid)."""
        try:
            self.policy.merged(request.policy)
        except PolicyError as exc:
            problems = exc.problems or (("policy", str(exc)),)
            return safety_pb2.ValidatePolicyResponse(
                problems=[safety_pb2.PolicyProblem(field=f, message=m) for f, m in problems]
            )
        return safety_pb2.ValidatePolicyResponse()

    def close(self) -> None:
        """Stop the worker threads."""
        self._pool.shutdown(wait=False, cancel_futures=True)


def _tool_input(call: common_pb2.ToolCall, where: str) -> dict | None:
    """A call's input as plain data; None when it has none."""
    if not call.HasField("input"):
        return None
    try:
        return struct_to_dict(call.input, where)
    except NonFiniteNumber as exc:
        raise InvalidArgument(str(exc), field=exc.path) from None


def _situation(context: safety_pb2.ActionContext) -> ActionSituation:
    previous: common_pb2.ToolCall = context.previous_call
    return ActionSituation(
        session_id=context.session_id,
        screenshot=context.screenshot.data,
        url=context.url,
        window_title=context.window_title,
        tainted=context.tainted,
        previous_tool=previous.name,
        previous_input=_tool_input(previous, "context.previous_call.input"),
        ui=snapshot_of(context.ui),
    )


def _verdict_proto(verdict: Verdict) -> safety_pb2.Verdict:
    return safety_pb2.Verdict(
        decision=int(verdict.decision),
        reasons=[
            safety_pb2.Reason(
                rule_id=r.rule_id, category=r.category, decision=int(r.decision), message=r.message
            )
            for r in verdict.reasons
        ],
    )


def _scan_response(result: ScanResult, elapsed_ms: float) -> safety_pb2.ScanContentResponse:
    response = safety_pb2.ScanContentResponse(
        injection=result.injection,
        score=result.score,
        level=_LEVELS[result.level],
        text=result.text,
        elapsed_ms=elapsed_ms,
    )
    for span in result.spans:
        item = response.spans.add(start=span.start, end=span.end, text=span.text, score=span.score)
        if span.box:
            item.box.x0, item.box.y0, item.box.x1, item.box.y1 = span.box
    return response
