"""Tool definitions: which types the stand-in knows, which beta each needs, their fields.

The accepted and required fields of each tool type are read from the SDK's own request
types, so a definition the SDK can type is one the stand-in understands field for field.
"""

from __future__ import annotations

import re
import typing
from dataclasses import dataclass
from typing import Any

from anthropic.types import beta as sdk
from anthropic.types.beta.beta_computer_toolset_configs_param import (
    BetaComputerToolsetConfigsParam,
)

from deskpilot.standin.errors import InvalidRequest

# A client-tool type, the beta header it needs (None: generally available) and a rough
# count of the tokens its definition adds to the prompt.
_CLIENT_TOOLS: list[tuple[type, str | None, int]] = [
    (sdk.BetaToolComputerUse20241022Param, "computer-use-2024-10-22", 683),
    (sdk.BetaToolBash20241022Param, "computer-use-2024-10-22", 245),
    (sdk.BetaToolTextEditor20241022Param, "computer-use-2024-10-22", 700),
    (sdk.BetaToolComputerUse20250124Param, "computer-use-2025-01-24", 735),
    (sdk.BetaToolComputerUse20251124Param, "computer-use-2025-11-24", 735),
    # The SDK lists these in the non-beta tool union too: they need no beta header.
    (sdk.BetaToolBash20250124Param, None, 245),
    (sdk.BetaToolTextEditor20250124Param, None, 700),
    (sdk.BetaToolTextEditor20250429Param, None, 700),
    (sdk.BetaToolTextEditor20250728Param, None, 700),
    (sdk.BetaComputerToolset20260801Param, None, 735),
]

CUSTOM_TOOL_TYPE = "custom"
COMPUTER_TOOLSET_TYPE = "computer_toolset_20260801"
COMPUTER_TOOLSET_FAMILY = "computer"
COMPUTER_TOOLSET_MEMBERS: frozenset[str] = frozenset(
    typing.get_type_hints(BetaComputerToolsetConfigsParam)
)
_TOOLSET_MEMBER_CONFIG_KEYS = frozenset({"enabled", "defer_loading"})
# Tool-use instructions the API adds to the system prompt whenever tools are present.
TOOL_USE_SYSTEM_TOKENS = 346
_CUSTOM_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")


@dataclass(frozen=True)
class ToolKind:
    """One tool type as the API knows it."""

    type: str
    beta: str | None
    fixed_name: str | None
    required: frozenset[str]
    allowed: frozenset[str]
    tokens: int


def _literal(hints: dict[str, Any], field: str) -> str | None:
    """The single string a `Literal[...]` field (possibly wrapped in Required) allows."""
    hint = hints.get(field)
    while hint is not None and typing.get_origin(hint) in (typing.Required, typing.NotRequired):
        hint = typing.get_args(hint)[0]
    if typing.get_origin(hint) is typing.Literal:
        return str(typing.get_args(hint)[0])
    return None


def typed_dict_fields(param_type: type) -> tuple[frozenset[str], frozenset[str]]:
    """(required, all) field names of an SDK TypedDict.

    Read from the resolved hints: the SDK's modules use postponed annotations, which
    leave `__required_keys__` unreliable on Python 3.11.
    """
    hints = typing.get_type_hints(param_type, include_extras=True)
    required = {f for f, h in hints.items() if typing.get_origin(h) is typing.Required}
    return frozenset(required), frozenset(hints)


def _kind(param_type: type, beta: str | None, tokens: int) -> ToolKind:
    hints = typing.get_type_hints(param_type, include_extras=True)
    tool_type = _literal(hints, "type")
    assert tool_type is not None, param_type
    required, allowed = typed_dict_fields(param_type)
    return ToolKind(
        type=tool_type,
        beta=beta,
        fixed_name=_literal(hints, "name"),
        required=required,
        allowed=allowed,
        tokens=tokens,
    )


TOOL_KINDS: dict[str, ToolKind] = {
    kind.type: kind for kind in (_kind(*row) for row in _CLIENT_TOOLS)
}
_CUSTOM_ALLOWED = typed_dict_fields(sdk.BetaToolParam)[1]


@dataclass(frozen=True)
class CheckedTools:
    """What the validated `tools` list declares."""

    names: frozenset[str]
    toolset_members: frozenset[str]
    tokens: list[int]


def check_tools(tools: Any, betas: frozenset[str]) -> CheckedTools:
    """Validate `tools` against the known types and the request's betas."""
    if not isinstance(tools, list):
        raise InvalidRequest("tools: Input should be a valid list")
    names: set[str] = set()
    members: set[str] = set()
    tokens: list[int] = []
    for index, tool in enumerate(tools):
        where = f"tools.{index}"
        if not isinstance(tool, dict):
            raise InvalidRequest(f"{where}: Input should be a valid dictionary")
        tool_type = tool.get("type") or CUSTOM_TOOL_TYPE
        if tool_type == CUSTOM_TOOL_TYPE:
            name = _check_custom(tool, where)
            tokens.append(20 + len(repr(tool)) // 4)
        else:
            kind = _known_kind(tool_type, where, betas)
            _check_fields(tool, kind, where)
            if kind.type == COMPUTER_TOOLSET_TYPE:
                members |= _check_toolset_configs(tool.get("configs"), where)
                name = COMPUTER_TOOLSET_FAMILY
            else:
                name = tool["name"]
            tokens.append(kind.tokens)
        if name in names:
            raise InvalidRequest(f"tools: Tool names must be unique. Found duplicate: {name!r}")
        names.add(name)
    return CheckedTools(frozenset(names), frozenset(members), tokens)


def _known_kind(tool_type: Any, where: str, betas: frozenset[str]) -> ToolKind:
    kind = TOOL_KINDS.get(tool_type) if isinstance(tool_type, str) else None
    if kind is None or (kind.beta is not None and kind.beta not in betas):
        usable = sorted(t for t, k in TOOL_KINDS.items() if k.beta is None or k.beta in betas)
        message = (
            f"{where}: Input tag {tool_type!r} found using 'type' does not match any of the "
            f"expected tags: {', '.join(repr(t) for t in [CUSTOM_TOOL_TYPE, *usable])}"
        )
        if kind is not None:
            message += f" (tool type {tool_type!r} needs the `anthropic-beta: {kind.beta}` header)"
        raise InvalidRequest(message)
    return kind


def _check_fields(tool: dict[str, Any], kind: ToolKind, where: str) -> None:
    for field in sorted(kind.required - tool.keys()):
        raise InvalidRequest(f"{where}.{kind.type}.{field}: Field required")
    for field in sorted(tool.keys() - kind.allowed):
        raise InvalidRequest(f"{where}.{kind.type}.{field}: Extra inputs are not permitted")
    if kind.fixed_name is not None and tool["name"] != kind.fixed_name:
        raise InvalidRequest(
            f"{where}.{kind.type}.name: Input should be {kind.fixed_name!r} "
            f"(tool type {kind.type!r} has a fixed name)"
        )
    for field in ("display_width_px", "display_height_px"):
        if field in kind.required and not (
            isinstance(tool[field], int) and not isinstance(tool[field], bool) and tool[field] > 0
        ):
            raise InvalidRequest(f"{where}.{kind.type}.{field}: Input should be a positive integer")
    limit = tool.get("max_characters")
    if limit is not None and not (isinstance(limit, int) and limit >= 1):
        raise InvalidRequest(
            f"{where}.{kind.type}.max_characters: Input should be greater than or equal to 1"
        )


def _check_custom(tool: dict[str, Any], where: str) -> str:
    for field in ("name", "input_schema"):
        if field not in tool:
            raise InvalidRequest(f"{where}.custom.{field}: Field required")
    for field in sorted(tool.keys() - _CUSTOM_ALLOWED):
        raise InvalidRequest(f"{where}.custom.{field}: Extra inputs are not permitted")
    name = tool["name"]
    if not isinstance(name, str) or not _CUSTOM_NAME.match(name):
        raise InvalidRequest(
            f"{where}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{{1,128}}$'"
        )
    schema = tool["input_schema"]
    if not isinstance(schema, dict) or schema.get("type") != "object":
        raise InvalidRequest(f"{where}.custom.input_schema.type: Input should be 'object'")
    return name


def _check_toolset_configs(configs: Any, where: str) -> frozenset[str]:
    """The members a computer toolset offers once its `configs` overrides apply."""
    if configs is None:
        return COMPUTER_TOOLSET_MEMBERS
    if not isinstance(configs, dict):
        raise InvalidRequest(f"{where}.{COMPUTER_TOOLSET_TYPE}.configs: Input should be an object")
    enabled = set(COMPUTER_TOOLSET_MEMBERS)
    for member, config in configs.items():
        at = f"{where}.{COMPUTER_TOOLSET_TYPE}.configs.{member}"
        if member not in COMPUTER_TOOLSET_MEMBERS:
            raise InvalidRequest(f"{at}: Extra inputs are not permitted")
        if config is None:
            continue
        if not isinstance(config, dict):
            raise InvalidRequest(f"{at}: Input should be an object")
        for key in sorted(config.keys() - _TOOLSET_MEMBER_CONFIG_KEYS):
            raise InvalidRequest(f"{at}.{key}: Extra inputs are not permitted")
        if config.get("enabled") is False:
            enabled.discard(member)
    return frozenset(enabled)
