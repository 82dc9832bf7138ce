"""How session events look in a terminal: pure functions from events to lines.

`render_event` turns one event into whole lines; `ViewState` carries the little context
that spans events (proposed calls, so a verdict line can name its action, and whether a
step's text already streamed). Streamed model output (`ModelDelta`) is returned as a
fragment without a newline; `LiveView` (in live.py) puts the pieces on the terminal.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC

from google.protobuf.json_format import MessageToDict

from deskpilot.v1 import common_pb2, events_pb2, safety_pb2, session_pb2

S = session_pb2
STAND_IN_BANNER = "model: Messages API STAND-IN (scripted demo, not Claude)"
_EDITORS = ("str_replace_editor", "str_replace_based_edit_tool")
_MAX_TEXT = 100
# How much of a tool result is shown: an error whole up to a bound (it is what went
# wrong), an ordinary result its first few lines (the model reads the rest).
_ERROR_LINES, _ERROR_CHARS = 20, 2000
_RESULT_LINES, _RESULT_CHARS = 3, 300


@dataclass(frozen=True)
class Style:
    """ANSI colours on a terminal, plain text elsewhere."""

    colour: bool = False

    def _wrap(self, code: str, text: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.colour and text else text

    def dim(self, text: str) -> str:
        return self._wrap("2", text)

    def bold(self, text: str) -> str:
        return self._wrap("1", text)

    def red(self, text: str) -> str:
        return self._wrap("31", text)

    def green(self, text: str) -> str:
        return self._wrap("32", text)

    def yellow(self, text: str) -> str:
        return self._wrap("33", text)

    def cyan(self, text: str) -> str:
        return self._wrap("36", text)


@dataclass
class ViewState:
    """What rendering needs to remember between events."""

    calls: dict[str, common_pb2.ToolCall] = field(default_factory=dict)
    streamed_steps: set[int] = field(default_factory=set)
    # The session's model is the Messages API stand-in: say so, and show no dollar costs
    # (its model name is only what the session asked for, and nothing is billed).
    stand_in: bool = False


def status_name(status: int) -> str:
    """`SESSION_STATUS_WAITING_INPUT` → `waiting for input`."""
    name = S.SessionStatus.Name(status) if status in S.SessionStatus.values() else str(status)
    words = name.removeprefix("SESSION_STATUS_").lower().replace("_", " ")
    return words.replace("waiting ", "waiting for ")


def shorten(text: str, limit: int = _MAX_TEXT) -> str:
    """The first non-empty line of `text`, cut to `limit` characters."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    first = lines[0].strip() if lines else ""
    more = len(lines) > 1
    if len(first) > limit:
        first, more = first[: limit - 1], True
    return first + ("…" if more else "")


def excerpt(text: str, max_lines: int, max_chars: int) -> list[str]:
    """The start of `text` as lines: at most `max_lines` lines and `max_chars` characters,
    blank lines around it dropped, then a line saying how much was cut, if anything."""
    lines = text.strip("\n").rstrip().splitlines()
    while lines and not lines[0].strip():
        lines.pop(0)
    lines = [line.rstrip() for line in lines]
    shown: list[str] = []
    room = max_chars
    for line in lines[:max_lines]:
        if room <= 0:
            break
        shown.append(line[:room])
        room -= len(line) + 1  # the newline counts too
    cut = len("\n".join(lines)) - len("\n".join(shown))
    if cut <= 0:
        return shown
    more = len(lines) - len(shown)
    if more:
        return [*shown, f"… {more:,} more line{'s' * (more > 1)} not shown ({cut:,} characters)"]
    return [*shown, f"… {cut:,} more characters not shown"]


def describe_call(call: common_pb2.ToolCall) -> str:
    """A tool call in a few words: `computer left_click (640, 400)`, `bash $ ls -l`."""
    args = MessageToDict(call.input) if call.HasField("input") else {}
    if call.name == "bash":
        if args.get("restart"):
            return "bash restart"
        return f"bash $ {shorten(str(args.get('command', '')), 80)}"
    if call.name in _EDITORS:
        command = args.get("command", "?")
        detail = f" {args['view_range']}" if "view_range" in args else ""
        return f"edit {command} {args.get('path', '?')}{detail}"
    if call.name == "computer":
        action = str(args.pop("action", "?"))
        return f"computer {action}{_action_details(args)}".rstrip()
    # A computer toolset member (computer_toolset_20260801): the name is the action.
    if call.tool_type.startswith("computer_toolset"):
        return f"computer {call.name}{_action_details(args)}".rstrip()
    return f"{call.name} {shorten(json.dumps(args), 80)}".rstrip()


def _action_details(args: dict) -> str:
    parts = []
    for key in ("start_coordinate", "coordinate"):
        if isinstance(args.get(key), list) and len(args[key]) == 2:
            x, y = (int(v) for v in args[key])
            parts.append(f"({x}, {y})")
    if isinstance(args.get("region"), list):
        parts.append("[" + ", ".join(str(int(v)) for v in args["region"]) + "]")
    if "text" in args:
        parts.append(repr(shorten(str(args["text"]), 60)))
    if "scroll_direction" in args:
        parts.append(f"{args['scroll_direction']} by {int(args.get('scroll_amount', 1))}")
    if "duration" in args:
        parts.append(f"{args['duration']} s")
    return " " + " ".join(parts) if parts else ""


def _decision(decision: int) -> str:
    return safety_pb2.Decision.Name(decision).removeprefix("DECISION_").lower()


def _reasons(reasons: list[safety_pb2.Reason]) -> str:
    return "; ".join(r.message or r.rule_id for r in reasons) or "no reason given"


def _usage(usage: session_pb2.Usage, stand_in: bool) -> str:
    tokens = (
        usage.input_tokens
        + usage.output_tokens
        + usage.cache_creation_input_tokens
        + usage.cache_read_input_tokens
    )
    cost = "no cost (stand-in)" if stand_in else f"${usage.cost_usd:.4f}"
    return f"{tokens:,} tokens · {cost}"


def model_label(model: str, stand_in: bool) -> str:
    """Who answers: the model, or the stand-in playing a script under that model's name."""
    return f"the stand-in (as {model})" if stand_in else model


def _step(event: events_pb2.Event, style: Style) -> str:
    return style.cyan(f"[step {event.step}]")


def render_delta(delta: events_pb2.ModelDelta, style: Style) -> str:
    """A streamed piece of model output, to print without a newline."""
    if delta.kind == events_pb2.DELTA_KIND_THINKING:
        return style.dim(delta.text)
    return delta.text


def delta_prefix(delta: events_pb2.ModelDelta, style: Style) -> str:
    """What starts a new streamed block: thinking is marked, text is not."""
    return style.dim("thinking: ") if delta.kind == events_pb2.DELTA_KIND_THINKING else ""


def render_event(event: events_pb2.Event, state: ViewState, style: Style) -> list[str]:
    """Whole lines for one event (empty for events shown elsewhere, e.g. deltas)."""
    kind = event.WhichOneof("payload")
    handler = _HANDLERS.get(kind or "")
    return handler(event, state, style) if handler else []


def _session_created(event: events_pb2.Event, state: ViewState, style: Style) -> list[str]:
    session = event.session_created.session
    state.stand_in = state.stand_in or session.model_is_stand_in
    config = session.config
    size = f"{config.display.width}x{config.display.height}" if config.display.width else ""
    model = f"stand-in as {config.model}" if state.stand_in and config.model else config.model
    details = ", ".join(x for x in (model, size) if x)
    return [style.bold(f"session {session.id} created") + (f" ({details})" if details else "")]


def _status_changed(event: events_pb2.Event, state: ViewState, style: Style) -> list[str]:
    change = event.status_changed
    reason = f": {change.reason}" if change.reason else ""
    return [style.dim(f"status → {status_name(change.to)}{reason}")]


def _user_message(event: events_pb2.Event, state: ViewState, style: Style) -> list[str]:
    message = event.user_message
    return [f"{style.bold(message.author or 'user')}: {shorten(message.text, 200)}"]


def _model_request(event: events_pb2.Event, state: ViewState, style: Style) -> list[str]:
    request = event.model_request
    return [
        style.dim(
            f"[step {event.step}] asking {model_label(request.model, state.stand_in)} "
            f"({request.message_count} messages, {request.image_count} images)"
        )
    ]


def _model_delta(event: events_pb2.Event, state: ViewState, style: Style) -> list[str]:
    state.streamed_steps.add(event.step)
    return []


def _model_response(event: events_pb2.Event, state: ViewState, style: Style) -> list[str]:
    response = event.model_response
    lines = []
    if event.step not in state.streamed_steps:  # nothing streamed: show what it said
        if response.thinking:
            lines.append(style.dim(f"thinking: {shorten(response.thinking, 200)}"))
        if response.text:
            lines.append(response.text.strip())
    seconds = response.latency_ms / 1000
    lines.append(
        style.dim(
            f"[step {event.step}] model: {response.stop_reason or 'no stop reason'} · "
            f"{_usage(response.usage, state.stand_in)} · {seconds:.1f} s"
        )
    )
    for call in response.tool_calls:
        state.calls[call.tool_use_id] = call
    return lines


def _model_retry(event: events_pb2.Event, state: ViewState, style: Style) -> list[str]:
    retry = event.model_retry
    return [
        style.yellow(
            f"model busy ({retry.reason}), retrying in {retry.wait_seconds:.1f} s "
            f"(attempt {retry.attempt} failed)"
        )
    ]


def _action_proposed(event: events_pb2.Event, state: ViewState, style: Style) -> list[str]:
    call = event.action_proposed.call
    state.calls[call.tool_use_id] = call
    return []  # shown with its verdict, on one line


def _safety_verdict(event: events_pb2.Event, state: ViewState, style: Style) -> list[str]:
    verdict = event.safety_verdict
    call = state.calls.get(verdict.tool_use_id)
    action = describe_call(call) if call is not None else f"action {verdict.tool_use_id}"
    decision = _decision(verdict.verdict.decision)
    if decision == "allow":
        shown = style.green("→ allow")
    elif decision == "block":
        reasons = list(verdict.verdict.reasons)
        why = "safety gate unreachable" if verdict.fail_closed else _reasons(reasons)
        shown = style.red(f"→ BLOCK: {why}")
    else:
        shown = style.yellow(f"→ {decision}")
    return [f"{_step(event, style)} {action}  {shown}"]


def _confirmation_requested(event: events_pb2.Event, state: ViewState, style: Style) -> list[str]:
    request = event.confirmation_requested
    state.calls[request.call.tool_use_id] = request.call
    return [
        style.yellow(f"⚠ confirm: {describe_call(request.call)}"),
        style.yellow(f"  why: {_reasons(list(request.reasons))}"),
    ]


def _confirmation_resolved(event: events_pb2.Event, state: ViewState, style: Style) -> list[str]:
    resolved = event.confirmation_resolved
    reason = f": {resolved.reason}" if resolved.reason else ""
    if resolved.approved:
        return [style.green(f"✓ approved by {resolved.resolved_by or 'someone'}{reason}")]
    return [style.red(f"✗ denied by {resolved.resolved_by or 'someone'}{reason}")]


def _action_executed(event: events_pb2.Event, state: ViewState, style: Style) -> list[str]:
    executed = event.action_executed
    if executed.ok:
        return []  # its result follows
    return [style.red(f"  failed: {shorten(executed.error)}")]


def _content_scanned(event: events_pb2.Event, state: ViewState, style: Style) -> list[str]:
    scanned = event.content_scanned
    if not scanned.injection:
        return []
    return [style.red(f"⚠ possible prompt injection in the result (score {scanned.score:.2f})")]


def _tool_result(event: events_pb2.Event, state: ViewState, style: Style) -> list[str]:
    result = event.tool_result
    if result.is_error:
        lines = excerpt(result.text, _ERROR_LINES, _ERROR_CHARS)
    else:
        lines = excerpt(result.text, _RESULT_LINES, _RESULT_CHARS)
    images = " ".join(f"(screenshot, {image.size / 1024:.0f} KiB)" for image in result.images)
    if images and len(lines) <= 1:
        lines = [" ".join([*lines, images])]
    elif images:
        lines.append(images)
    label = "  error: " if result.is_error else "  result: "
    indent = " " * len(label)  # later lines line up under the first
    shown = [label + (lines[0] if lines else "(empty)"), *(indent + line for line in lines[1:])]
    return [style.red(line) for line in shown] if result.is_error else shown


def _control_taken(event: events_pb2.Event, state: ViewState, style: Style) -> list[str]:
    return [style.yellow(f"{event.control_taken.by} took control of the desktop")]


def _control_released(event: events_pb2.Event, state: ViewState, style: Style) -> list[str]:
    released = event.control_released
    note = f": {released.note}" if released.note else ""
    return [style.yellow(f"{released.by} gave the desktop back{note}")]


def _session_finished(event: events_pb2.Event, state: ViewState, style: Style) -> list[str]:
    finished = event.session_finished
    reason = f" ({finished.reason})" if finished.reason else ""
    return [
        style.bold(f"session ended: {status_name(finished.status)}{reason}")
        + f" · {finished.steps} steps · {_usage(finished.usage, state.stand_in)}"
    ]


_HANDLERS = {
    "session_created": _session_created,
    "status_changed": _status_changed,
    "user_message": _user_message,
    "model_request": _model_request,
    "model_delta": _model_delta,
    "model_response": _model_response,
    "model_retry": _model_retry,
    "action_proposed": _action_proposed,
    "safety_verdict": _safety_verdict,
    "confirmation_requested": _confirmation_requested,
    "confirmation_resolved": _confirmation_resolved,
    "action_executed": _action_executed,
    "content_scanned": _content_scanned,
    "tool_result": _tool_result,
    "control_taken": _control_taken,
    "control_released": _control_released,
    "session_finished": _session_finished,
}


def render_summary(session: session_pb2.Session, style: Style) -> str:
    """The closing line: status, reason, steps, tokens, cost."""
    reason = f" ({session.status_reason})" if session.status_reason else ""
    return (
        style.bold(f"{session.id}: {status_name(session.status)}{reason}")
        + f" · {session.steps} steps · {_usage(session.usage, session.model_is_stand_in)}"
    )


def render_banner(session: session_pb2.Session, style: Style) -> list[str]:
    """The stand-in label, for every command that shows a session."""
    return [style.yellow(style.bold(STAND_IN_BANNER))] if session.model_is_stand_in else []


def render_table(sessions: list[session_pb2.Session]) -> list[str]:
    """`deskpilot sessions`: id, status, steps, cost, created, task."""
    header = ("ID", "STATUS", "STEPS", "COST", "CREATED", "TASK")
    rows = [
        (
            s.id,
            status_name(s.status) + (" (stand-in)" if s.model_is_stand_in else ""),
            str(s.steps),
            "stand-in" if s.model_is_stand_in else f"${s.usage.cost_usd:.4f}",
            _created(s),
            shorten(s.config.task, 50),
        )
        for s in sessions
    ]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header) - 1)]
    return [
        "  ".join([*(c.ljust(w) for c, w in zip(row[:-1], widths, strict=True)), row[-1]])
        for row in (header, *rows)
    ]


def _created(session: session_pb2.Session) -> str:
    if not session.HasField("created_at"):
        return "-"
    when = session.created_at.ToDatetime(tzinfo=UTC)
    return when.astimezone().strftime("%Y-%m-%d %H:%M:%S")
