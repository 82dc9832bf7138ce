"""Calling a session's executors and turning their answers into tool outcomes.

The model's tool call goes to the executor verbatim (as a ToolCall), so the executor's
own parser judges it and a bad call comes back as a precise error the model can fix.
Every call carries an idempotency key: after a crash the same call is sent again and the
executor answers from memory instead of acting twice. When the executor cannot tell what
became of the first call (it was interrupted, or its result is no longer kept), the model
gets an error result saying the action may or may not have happened, so it looks before
it repeats anything.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import grpc

from deskpilot.common.grpc_client import open_channel
from deskpilot.common.sandbox_credential import call_metadata
from deskpilot.orchestrator.tools import Executor, ToolSetSpec
from deskpilot.orchestrator.truncation import DEFAULT_MAX_RESULT_CHARACTERS, bounded
from deskpilot.v1 import (
    common_pb2,
    display_pb2,
    display_pb2_grpc,
    session_pb2,
    shell_pb2,
    shell_pb2_grpc,
)

# Errors that mean "your call was wrong", reported to the model as an error result.
_CALLER_ERRORS = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.OUT_OF_RANGE,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.ALREADY_EXISTS,
}
# A bash command may run this long unless the session says otherwise; the call's deadline
# leaves room for the executor to kill it and answer.
BASH_TIMEOUT_SECONDS = 120.0
_BASH_DEADLINE_MARGIN = 30.0
# What the model reads when the executor does not know what became of the first call.
OUTCOME_UNKNOWN = (
    "The outcome of this action is unknown: it was started before an interruption, and the "
    "executor said: {detail}. Check the current state first (take a screenshot, or look "
    "with a command that changes nothing), then decide whether to do it again."
)
# Toolset members answer with a short confirmation, not a screenshot: the model asks for
# a screenshot when it wants one.
_TOOLSET_SCREENSHOT_MEMBERS = {"screenshot", "zoom"}
# Computer actions the gate judges by what is at their point (clicks) or where the focus
# is (typing): the desktop's accessibility tree is read for them before they are judged.
_UI_ACTIONS = {
    "left_click", "right_click", "middle_click", "double_click", "triple_click",
    "left_mouse_down", "left_mouse_up", "type", "key",
}  # fmt: skip
# Reading the tree is an extra: when it does not answer soon, the gate judges by OCR.
INSPECT_TIMEOUT_SECONDS = 2.0
# text_editor_20250728 cuts views itself (max_characters) and adds its own note; this is
# room for that note and ours within the result's bound.
_VIEW_NOTE_ROOM = 512
# What a cut result suggests, per executor.
_HINTS = {
    Executor.BASH: "send long output to a file and read it in parts",
    Executor.EDITOR: "view a line range to see the rest",
}


class ExecutorUnavailable(RuntimeError):
    """The executor could not be reached or failed; the action may not have run."""


@dataclass
class ToolOutcome:
    """What an executor made of one tool call."""

    text: str
    is_error: bool = False
    image: common_pb2.Image | None = None
    latency_ms: float = 0.0
    replayed: bool = False


class SandboxClient:
    """gRPC clients for one sandbox's display and shell executors."""

    def __init__(
        self,
        endpoints: session_pb2.SandboxEndpoints,
        spec: ToolSetSpec,
        *,
        credential: str = "",
        max_characters: int | None = None,
        bash_timeout: float = BASH_TIMEOUT_SECONDS,
    ) -> None:
        """`credential`: the sandbox's executor credential, sent with every call."""
        self.spec = spec
        self._metadata = call_metadata(credential)
        self.bash_timeout = bash_timeout
        # The most characters of one result's text (what executors answer is cut to it).
        self.max_characters = max_characters or DEFAULT_MAX_RESULT_CHARACTERS
        self._display_channel = open_channel(endpoints.display_address, default_timeout=120)
        self._shell_channel = open_channel(endpoints.shell_address, default_timeout=None)
        self.display = display_pb2_grpc.DisplayStub(self._display_channel)
        self.shell = shell_pb2_grpc.ShellStub(self._shell_channel)

    async def close(self) -> None:
        await self._display_channel.close()
        await self._shell_channel.close()

    async def info(self) -> display_pb2.GetInfoResponse:
        return await self.display.GetInfo(
            display_pb2.GetInfoRequest(), timeout=10, metadata=self._metadata
        )

    async def screenshot(self) -> common_pb2.Image:
        reply = await self.display.Screenshot(
            display_pb2.ScreenshotRequest(), timeout=30, metadata=self._metadata
        )
        return reply.image

    async def run(
        self, executor: Executor, call: common_pb2.ToolCall, idempotency_key: str
    ) -> ToolOutcome:
        """Perform `call`; caller errors become error outcomes, outages ExecutorUnavailable."""
        started = time.perf_counter()
        try:
            if executor is Executor.DISPLAY:
                outcome = await self._act(call, idempotency_key)
            elif executor is Executor.BASH:
                outcome = await self._bash(call, idempotency_key)
            else:
                outcome = await self._edit(call, idempotency_key)
        except grpc.aio.AioRpcError as exc:
            if exc.code() in _CALLER_ERRORS:
                outcome = ToolOutcome(text=exc.details() or exc.code().name, is_error=True)
            else:
                raise ExecutorUnavailable(
                    f"{executor.value} executor failed: {exc.code().name}: {exc.details()}"
                ) from exc
        outcome.text = bounded(outcome.text, self.max_characters, hint=_HINTS.get(executor, ""))
        outcome.latency_ms = (time.perf_counter() - started) * 1000
        return outcome

    async def _act(self, call: common_pb2.ToolCall, key: str) -> ToolOutcome:
        action = call.name if self.spec.is_toolset else _field(call, "action")
        wants_image = action != "cursor_position"
        if self.spec.is_toolset:
            wants_image = action in _TOOLSET_SCREENSHOT_MEMBERS
        reply = await self.display.Act(
            display_pb2.ActRequest(
                tool_call=call,
                version=self.spec.computer_version,
                return_screenshot=wants_image,
                idempotency_key=key,
            ),
            metadata=self._metadata,
        )
        if reply.outcome_unknown:
            return outcome_unknown(reply.output)
        text = reply.output
        if self.spec.is_toolset and not text and not wants_image:
            text = f"Done: {action}."
        image = reply.screenshot if reply.HasField("screenshot") else None
        return ToolOutcome(text=text, image=image, replayed=reply.replayed)

    async def ui_for(self, call: common_pb2.ToolCall) -> common_pb2.UiContext | None:
        """What the accessibility tree shows where a click or typing would land, for the
        gate; None for other calls. `available` is false when the tree did not answer (an
        executor without Inspect, an app that hangs): the gate then judges by OCR."""
        action = call.name if self.spec.is_toolset else _field(call, "action")
        if action not in _UI_ACTIONS:
            return None
        request = display_pb2.InspectRequest()
        coordinate = call.input.fields.get("coordinate")
        if action not in {"type", "key"} and coordinate is not None:
            values = coordinate.list_value.values
            if len(values) == 2:
                request.point.x, request.point.y = (int(v.number_value) for v in values)
        try:
            reply = await self.display.Inspect(
                request, timeout=INSPECT_TIMEOUT_SECONDS, metadata=self._metadata
            )
        except grpc.aio.AioRpcError:
            # A point the action itself will refuse, or no tree: judged without it.
            return common_pb2.UiContext(available=False)
        return reply.ui

    async def _bash(self, call: common_pb2.ToolCall, key: str) -> ToolOutcome:
        reply = await self.shell.Bash(
            shell_pb2.BashRequest(
                tool_call=call,
                version=self.spec.bash_version,
                idempotency_key=key,
                timeout_seconds=self.bash_timeout,
            ),
            timeout=self.bash_timeout + _BASH_DEADLINE_MARGIN,
            metadata=self._metadata,
        )
        if reply.outcome_unknown:
            return outcome_unknown(reply.note)
        return ToolOutcome(
            text=format_bash(reply), is_error=reply.timed_out, replayed=reply.replayed
        )

    async def _edit(self, call: common_pb2.ToolCall, key: str) -> ToolOutcome:
        limit = self.view_limit()
        reply = await self.shell.Edit(
            shell_pb2.EditRequest(
                tool_call=call,
                version=self.spec.editor_version,
                idempotency_key=key,
                max_characters=limit,
            ),
            metadata=self._metadata,
        )
        if reply.outcome_unknown:
            return outcome_unknown(reply.output)
        text = reply.output
        viewed = _field(call, "command") == "view"
        if viewed and limit is not None and len(text) > limit:  # the executor cut the view
            text += f"\n[output truncated: showed the first {limit} characters]"
        return ToolOutcome(text=text, replayed=reply.replayed)

    def view_limit(self) -> int | None:
        return view_limit(self.spec, self.max_characters)


def view_limit(spec: ToolSetSpec, max_characters: int) -> int | None:
    """The max_characters of text_editor_20250728 (its tool definition says it too);
    None for the versions without one."""
    if spec.editor_type != "text_editor_20250728":
        return None
    return max(1, max_characters - _VIEW_NOTE_ROOM)


def outcome_unknown(detail: str) -> ToolOutcome:
    """An error result telling the model the action may or may not have happened."""
    return ToolOutcome(
        text=OUTCOME_UNKNOWN.format(detail=detail.rstrip(".") or "no detail given"),
        is_error=True,
        replayed=True,
    )


# What a command that printed nothing returns: the orchestrator's words, not the sandbox's.
NO_OUTPUT = "(no output)"


def format_bash(reply: shell_pb2.BashResponse) -> str:
    """The text the model reads: stdout, then stderr and anything unusual, labelled."""
    parts = [reply.stdout.rstrip("\n")] if reply.stdout else []
    if reply.stderr:
        parts.append("stderr:\n" + reply.stderr.rstrip("\n"))
    if reply.HasField("exit_code") and reply.exit_code != 0:
        parts.append(f"(exit status {reply.exit_code})")
    if reply.note:
        parts.append(f"({reply.note})")
    if reply.restarted and not reply.note:
        parts.append("(the shell was restarted)")
    return "\n".join(parts) if parts else NO_OUTPUT


def _field(call: common_pb2.ToolCall, name: str) -> str:
    value = call.input.fields.get(name)
    return value.string_value if value is not None else ""
