"""The Safety gRPC service: protos in, ActionChecker / ContentScanner, protos out."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
from google.protobuf.json_format import MessageToDict
from prometheus_client import Counter, Histogram

from deskpilot.common.errors import InvalidArgument
from deskpilot.safety.action_check import ActionChecker, ActionInputError, ActionSituation
from deskpilot.safety.policy import Policy, PolicyError
from deskpilot.safety.scanner import ContentScanner, ScanResult
from deskpilot.v1 import common_pb2, safety_pb2, safety_pb2_grpc

DECISIONS = Counter(
    "deskpilot_safety_decisions_total", "CheckAction verdicts by decision.", ["decision"]
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
        self, policy: Policy, checker: ActionChecker, scanner: ContentScanner, workers: int = 2
    ) -> None:
        self.policy = policy
        self.checker = checker
        self.scanner = scanner
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="safety")

    def _policy(self, override: safety_pb2.SafetyPolicy | None) -> Policy:
        try:
            return self.policy.merged(override)
        except PolicyError as exc:
            raise InvalidArgument(str(exc)) from None

    async def CheckAction(
        self, request: safety_pb2.CheckActionRequest, context: grpc.aio.ServicerContext
    ) -> safety_pb2.CheckActionResponse:
        started = time.perf_counter()
        if not request.call.name:
            raise InvalidArgument("call.name is empty: name the tool (bash, computer, …)")
        policy = self._policy(request.policy if request.HasField("policy") else None)
        situation = _situation(request.context)
        tool_input = MessageToDict(request.call.input) if request.call.HasField("input") else {}
        loop = asyncio.get_running_loop()
        try:
            verdict = await loop.run_in_executor(
                self._pool, self.checker.check, request.call.name, tool_input, situation, policy
            )
        except ActionInputError as exc:
            raise InvalidArgument(f"{request.call.name}: {exc}") from None
        DECISIONS.labels(verdict.decision.name.lower()).inc()
        return safety_pb2.CheckActionResponse(
            verdict=safety_pb2.Verdict(
                decision=int(verdict.decision),
                reasons=[
                    safety_pb2.Reason(
                        rule_id=r.rule_id,
                        category=r.category,
                        decision=int(r.decision),
                        message=r.message,
                    )
                    for r in verdict.reasons
                ],
            ),
            elapsed_ms=(time.perf_counter() - started) * 1000,
        )

    async def ScanContent(
        self, request: safety_pb2.ScanContentRequest, context: grpc.aio.ServicerContext
    ) -> safety_pb2.ScanContentResponse:
        started = time.perf_counter()
        policy = self._policy(request.policy if request.HasField("policy") else None)
        which = request.WhichOneof("content")
        loop = asyncio.get_running_loop()
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
                    raise InvalidArgument("image.data is empty")
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
        except ValueError as exc:
            raise InvalidArgument(str(exc)) from None
        SCAN_SECONDS.labels(which).observe(time.perf_counter() - started)
        return _scan_response(result, (time.perf_counter() - started) * 1000)

    def close(self) -> None:
        """Stop the worker threads."""
        self._pool.shutdown(wait=False, cancel_futures=True)


def _situation(context: safety_pb2.ActionContext) -> ActionSituation:
    previous: common_pb2.ToolCall = context.previous_call
    return ActionSituation(
        session_id=context.session_id,
        screenshot=context.screenshot.data,
        url=context.url,
        window_title=context.window_title,
        tainted=context.tainted,
        previous_tool=previous.name,
        previous_input=MessageToDict(previous.input) if previous.HasField("input") else None,
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
