"""The tool definitions a session offers the model, per tool set, and how a tool_use
block maps to an executor and the version it was issued under."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from anthropic.types.beta import (
    BetaComputerToolset20260801Param,
    BetaToolBash20241022Param,
    BetaToolBash20250124Param,
    BetaToolComputerUse20241022Param,
    BetaToolComputerUse20250124Param,
    BetaToolComputerUse20251124Param,
    BetaToolTextEditor20241022Param,
    BetaToolTextEditor20250124Param,
    BetaToolTextEditor20250429Param,
    BetaToolTextEditor20250728Param,
    BetaToolUnionParam,
)
from anthropic.types.beta.beta_computer_member_name import BETA_COMPUTER_MEMBER_NAME_VALUES

from deskpilot.v1 import common_pb2, session_pb2

COMPUTER_TOOLSET_NAME = "computer"  # the toolset family; tool_use/tool_result carry it


class Executor(Enum):
    """Which sandbox executor performs a tool call."""

    DISPLAY = "display"
    BASH = "bash"
    EDITOR = "editor"


@dataclass(frozen=True)
class ToolSetSpec:
    """Everything that differs between tool sets."""

    computer_type: str
    bash_type: str
    editor_type: str
    editor_name: str
    beta: str | None
    computer_version: common_pb2.ComputerToolVersion.ValueType
    bash_version: common_pb2.BashToolVersion.ValueType
    editor_version: common_pb2.EditorToolVersion.ValueType

    @property
    def is_toolset(self) -> bool:
        return self.computer_type == "computer_toolset_20260801"


_C = common_pb2
TOOL_SETS: dict[int, ToolSetSpec] = {
    session_pb2.TOOL_SET_20241022: ToolSetSpec(
        "computer_20241022", "bash_20241022", "text_editor_20241022", "str_replace_editor",
        "computer-use-2024-10-22", _C.COMPUTER_TOOL_VERSION_20241022,
        _C.BASH_TOOL_VERSION_20241022, _C.EDITOR_TOOL_VERSION_20241022,
    ),
    session_pb2.TOOL_SET_20250124: ToolSetSpec(
        "computer_20250124", "bash_20250124", "text_editor_20250124", "str_replace_editor",
        "computer-use-2025-01-24", _C.COMPUTER_TOOL_VERSION_20250124,
        _C.BASH_TOOL_VERSION_20250124, _C.EDITOR_TOOL_VERSION_20250124,
    ),
    session_pb2.TOOL_SET_20250429: ToolSetSpec(
        "computer_20250124", "bash_20250124", "text_editor_20250429",
        "str_replace_based_edit_tool", "computer-use-2025-01-24",
        _C.COMPUTER_TOOL_VERSION_20250124, _C.BASH_TOOL_VERSION_20250124,
        _C.EDITOR_TOOL_VERSION_20250429,
    ),
    session_pb2.TOOL_SET_20251124: ToolSetSpec(
        "computer_20251124", "bash_20250124", "text_editor_20250728",
        "str_replace_based_edit_tool", "computer-use-2025-11-24",
        _C.COMPUTER_TOOL_VERSION_20251124, _C.BASH_TOOL_VERSION_20250124,
        _C.EDITOR_TOOL_VERSION_20250728,
    ),
    # The toolset is generally available: no beta flag.
    session_pb2.TOOL_SET_20260801: ToolSetSpec(
        "computer_toolset_20260801", "bash_20250124", "text_editor_20250728",
        "str_replace_based_edit_tool", None, _C.COMPUTER_TOOL_VERSION_TOOLSET_20260801,
        _C.BASH_TOOL_VERSION_20250124, _C.EDITOR_TOOL_VERSION_20250728,
    ),
}  # fmt: skip


def tool_set_for_model(model: str) -> int:
    """The newest tool set a model supports, for sessions that leave it unspecified."""
    name = model.lower()
    older = ("claude-3-5-sonnet", "claude-3-7-sonnet", "claude-sonnet-4-2025", "claude-opus-4-2025")
    if name.startswith("claude-3-5-sonnet"):
        return session_pb2.TOOL_SET_20241022
    if name.startswith(older):
        return session_pb2.TOOL_SET_20250124
    return session_pb2.TOOL_SET_20251124


def tool_definitions(
    tool_set: int, display_width: int, display_height: int, *, max_characters: int | None = None
) -> list[BetaToolUnionParam]:
    """The tools[] entries for a tool set, with the display size the model sees."""
    spec = TOOL_SETS[tool_set]
    return [
        _computer(spec, display_width, display_height),
        _bash(spec),
        _editor(spec, max_characters),
    ]


def _computer(spec: ToolSetSpec, width: int, height: int) -> BetaToolUnionParam:
    size = {"display_width_px": width, "display_height_px": height}
    match spec.computer_type:
        case "computer_20241022":
            return BetaToolComputerUse20241022Param(
                type="computer_20241022", name="computer", **size
            )
        case "computer_20250124":
            return BetaToolComputerUse20250124Param(
                type="computer_20250124", name="computer", **size
            )
        case "computer_20251124":
            return BetaToolComputerUse20251124Param(
                type="computer_20251124", name="computer", enable_zoom=True, **size
            )
        case _:
            return BetaComputerToolset20260801Param(type="computer_toolset_20260801")


def _bash(spec: ToolSetSpec) -> BetaToolUnionParam:
    if spec.bash_type == "bash_20241022":
        return BetaToolBash20241022Param(type="bash_20241022", name="bash")
    return BetaToolBash20250124Param(type="bash_20250124", name="bash")


def _editor(spec: ToolSetSpec, max_characters: int | None) -> BetaToolUnionParam:
    match spec.editor_type:
        case "text_editor_20241022":
            return BetaToolTextEditor20241022Param(
                type="text_editor_20241022", name="str_replace_editor"
            )
        case "text_editor_20250124":
            return BetaToolTextEditor20250124Param(
                type="text_editor_20250124", name="str_replace_editor"
            )
        case "text_editor_20250429":
            return BetaToolTextEditor20250429Param(
                type="text_editor_20250429", name="str_replace_based_edit_tool"
            )
        case _:
            tool = BetaToolTextEditor20250728Param(
                type="text_editor_20250728", name="str_replace_based_edit_tool"
            )
            if max_characters:
                tool["max_characters"] = max_characters
            return tool


def executor_for(tool_set: int, name: str, toolset_name: str | None = None) -> Executor | None:
    """Which executor runs a tool_use named `name`; None for a tool the session lacks."""
    spec = TOOL_SETS[tool_set]
    if spec.is_toolset and toolset_name == COMPUTER_TOOLSET_NAME:
        return Executor.DISPLAY if name in BETA_COMPUTER_MEMBER_NAME_VALUES else None
    if name == "computer" and not spec.is_toolset:
        return Executor.DISPLAY
    if name == "bash":
        return Executor.BASH
    if name == spec.editor_name:
        return Executor.EDITOR
    return None
