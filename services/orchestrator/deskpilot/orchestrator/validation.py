"""Checking a CreateSession request and filling in defaults, with messages that say
exactly which field is wrong and what is allowed."""

from __future__ import annotations

from deskpilot.common.errors import InvalidArgument
from deskpilot.orchestrator.session_limits import check_requested, fill_in
from deskpilot.orchestrator.settings import OrchestratorSettings
from deskpilot.orchestrator.tools import TOOL_SETS, tool_set_for_model
from deskpilot.v1 import session_pb2

MAX_TASK_CHARS = 100_000
MIN_DISPLAY, MAX_DISPLAY = (640, 480), (3840, 2160)
MIN_THINKING_BUDGET = 1024


def validated_config(
    config: session_pb2.SessionConfig, settings: OrchestratorSettings
) -> session_pb2.SessionConfig:
    """A copy of `config` with defaults filled in (and the limits that apply: see
    session_limits); InvalidArgument names the bad field."""
    checked = session_pb2.SessionConfig()
    checked.CopyFrom(config)
    if not checked.task.strip():
        raise InvalidArgument(
            "config.task is required: what should the agent do?", field="config.task"
        )
    if len(checked.task) > MAX_TASK_CHARS:
        raise InvalidArgument(
            f"config.task is {len(checked.task)} characters; at most {MAX_TASK_CHARS}",
            field="config.task",
        )
    checked.model = checked.model or settings.default_model
    _check_display(checked)
    if checked.display.width == 0:
        width, height = settings.default_display.split("x")
        checked.display.width, checked.display.height = int(width), int(height)
    if checked.tool_set == session_pb2.TOOL_SET_UNSPECIFIED:
        checked.tool_set = tool_set_for_model(checked.model)
    elif checked.tool_set not in TOOL_SETS:
        raise InvalidArgument(
            f"config.tool_set {checked.tool_set} is not a known tool set", field="config.tool_set"
        )
    check_requested(checked.limits)
    fill_in(checked.limits, settings.limits())
    budget = checked.thinking_budget_tokens
    if budget < 0 or 0 < budget < MIN_THINKING_BUDGET:
        raise InvalidArgument(
            f"config.thinking_budget_tokens must be 0 (off) or at least {MIN_THINKING_BUDGET}",
            field="config.thinking_budget_tokens",
        )
    for name in ("keep_recent_screenshots", "max_output_tokens"):
        if getattr(checked, name) < 0:
            raise InvalidArgument(
                f"config.{name} must be 0 (default) or positive", field=f"config.{name}"
            )
    return checked


def _check_display(config: session_pb2.SessionConfig) -> None:
    size = config.display
    if size.width == 0 and size.height == 0:
        return  # the deployment's default size applies
    (min_w, min_h), (max_w, max_h) = MIN_DISPLAY, MAX_DISPLAY
    if not (min_w <= size.width <= max_w and min_h <= size.height <= max_h):
        raise InvalidArgument(
            f"config.display {size.width}x{size.height} is outside "
            f"{min_w}x{min_h}..{max_w}x{max_h}",
            field="config.display",
        )
