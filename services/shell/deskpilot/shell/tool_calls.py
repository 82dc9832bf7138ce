"""The model's raw tool calls, checked strictly per tool version and made typed.

`input` arrives as a google.protobuf.Struct, so numbers are floats: they must be
integral. Unknown commands and missing, extra or ill-typed fields are INVALID_ARGUMENT
naming the field and what is allowed, with its path in the request
(`tool_call.input.view_range[1]`) as a BadRequest field violation. A JSON null counts as
an absent optional field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from deskpilot.common.errors import FieldViolation, InvalidArgument
from deskpilot.common.struct_values import NonFiniteNumber, struct_to_dict
from deskpilot.v1 import common_pb2, shell_pb2

BashVersion = common_pb2.BashToolVersion
EditorVersion = common_pb2.EditorToolVersion

BASH_TYPES = {
    "bash_20241022": common_pb2.BASH_TOOL_VERSION_20241022,
    "bash_20250124": common_pb2.BASH_TOOL_VERSION_20250124,
}
EDITOR_TYPES = {
    "text_editor_20241022": common_pb2.EDITOR_TOOL_VERSION_20241022,
    "text_editor_20250124": common_pb2.EDITOR_TOOL_VERSION_20250124,
    "text_editor_20250429": common_pb2.EDITOR_TOOL_VERSION_20250429,
    "text_editor_20250728": common_pb2.EDITOR_TOOL_VERSION_20250728,
}
EDITOR_VERSION_NAMES = {version: name for name, version in EDITOR_TYPES.items()}
EDITOR_VERSION_NAMES[common_pb2.EDITOR_TOOL_VERSION_UNSPECIFIED] = "text_editor_20250728"
BASH_VERSION_NAMES = {version: name for name, version in BASH_TYPES.items()}
BASH_VERSION_NAMES[common_pb2.BASH_TOOL_VERSION_UNSPECIFIED] = "bash_20250124"

_OLD_EDITOR = (common_pb2.EDITOR_TOOL_VERSION_20241022, common_pb2.EDITOR_TOOL_VERSION_20250124)
_INT32 = (-(2**31), 2**31 - 1)
# Where a raw call's input fields sit in BashRequest and EditRequest.
_INPUT = "tool_call.input."


def editor_has_undo(version: int) -> bool:
    """undo_edit exists in text_editor_20241022 and _20250124 only."""
    return version in _OLD_EDITOR


def editor_has_max_characters(version: int) -> bool:
    """view's max_characters exists from text_editor_20250728 (the newest) on."""
    return _is_newest(version)


def editor_tool_name(version: int) -> str:
    return "str_replace_editor" if version in _OLD_EDITOR else "str_replace_based_edit_tool"


def editor_fields(version: int) -> dict[str, tuple[set[str], set[str]]]:
    """command -> (required fields, optional fields) for one editor version."""
    insert_text = "insert_text" if _is_newest(version) else "new_str"
    fields = {
        # max_characters belongs to the tool definition (EditRequest), never to the model's
        # input: a model could otherwise lift its own limit.
        "view": ({"path"}, {"view_range"}),
        "create": ({"path", "file_text"}, set()),
        "str_replace": ({"path", "old_str"}, {"new_str"}),
        "insert": ({"path", "insert_line", insert_text}, set()),
    }
    if editor_has_undo(version):
        fields["undo_edit"] = ({"path"}, set())
    return fields


def _is_newest(version: int) -> bool:
    return version in (
        common_pb2.EDITOR_TOOL_VERSION_20250728,
        common_pb2.EDITOR_TOOL_VERSION_UNSPECIFIED,
    )


def check_bash_version(version: int) -> None:
    """INVALID_ARGUMENT for a BashToolVersion this executor does not know."""
    _check_version(version, BASH_VERSION_NAMES, "bash")


def check_editor_version(version: int) -> None:
    """INVALID_ARGUMENT for an EditorToolVersion this executor does not know."""
    _check_version(version, EDITOR_VERSION_NAMES, "text-editor")


def _check_version(version: int, names: Mapping[int, str], tool: str) -> None:
    if version not in names:
        allowed = ", ".join(
            f"{number} ({'unspecified: ' if number == 0 else ''}{name})"
            for number, name in sorted(names.items())
        )
        raise InvalidArgument(
            f"unknown {tool} tool version {version}; allowed: {allowed}", field="version"
        )


def bash_version_of(call: common_pb2.ToolCall, version: int) -> int:
    """The version the call was made under: from `version`, or else its tool_type."""
    check_bash_version(version)
    if call.name and call.name != "bash":
        raise InvalidArgument(
            f"tool name {call.name!r} is not the bash tool (expected 'bash')",
            field="tool_call.name",
        )
    return _version_of(call.tool_type, version, BASH_TYPES, BASH_VERSION_NAMES)


def editor_version_of(call: common_pb2.ToolCall, version: int) -> int:
    """The editor version from `version`, the call's tool_type, or its tool name."""
    check_editor_version(version)
    unversioned = not call.tool_type and version == common_pb2.EDITOR_TOOL_VERSION_UNSPECIFIED
    if unversioned and call.name == "str_replace_editor":  # the older name implies 20250124
        version = common_pb2.EDITOR_TOOL_VERSION_20250124
    version = _version_of(call.tool_type, version, EDITOR_TYPES, EDITOR_VERSION_NAMES)
    expected = editor_tool_name(version)
    if call.name and call.name != expected:
        raise InvalidArgument(
            f"tool name {call.name!r} does not match {EDITOR_VERSION_NAMES[version]}, "
            f"whose tool is named {expected!r}",
            field="tool_call.name",
        )
    return version


def _version_of(
    tool_type: str, version: int, types: Mapping[str, int], names: Mapping[int, str]
) -> int:
    if not tool_type:
        return version
    if tool_type not in types:
        raise InvalidArgument(
            f"unknown tool_type {tool_type!r}; allowed: {', '.join(types)}",
            field="tool_call.tool_type",
        )
    if version and types[tool_type] != version:
        raise InvalidArgument(
            f"tool_type {tool_type!r} contradicts the request's version {names[version]}",
            violations=[
                FieldViolation("tool_call.tool_type", f"contradicts version {names[version]}"),
                FieldViolation("version", f"contradicts tool_type {tool_type!r}"),
            ],
        )
    return types[tool_type]


def parse_bash_call(call: common_pb2.ToolCall, version: int) -> shell_pb2.BashCommand:
    """A raw bash tool call as a BashCommand."""
    bash_version_of(call, version)
    fields = _input(call)
    _no_extra(fields, {"command", "restart"}, "the bash tool")
    command = shell_pb2.BashCommand()
    if "command" in fields:
        command.command = _string(fields, "command")
    if "restart" in fields:
        command.restart = _bool(fields, "restart")
    if not command.restart and not command.HasField("command"):
        raise InvalidArgument(
            "the bash tool needs `command` (a string), or `restart: true`",
            field=_INPUT + "command",
        )
    return command


def parse_edit_call(call: common_pb2.ToolCall, version: int) -> tuple[shell_pb2.EditCommand, int]:
    """A raw text-editor tool call as an EditCommand, with the version it was made under."""
    version = editor_version_of(call, version)
    name = EDITOR_VERSION_NAMES[version]
    fields = _input(call)
    allowed = editor_fields(version)
    if "command" not in fields:
        raise InvalidArgument(
            f"`command` is required; allowed for {name}: {', '.join(allowed)}",
            field=_INPUT + "command",
        )
    verb = _string(fields, "command")
    if verb not in allowed:
        extra = ""
        if verb == "undo_edit":
            extra = " (undo_edit exists only in text_editor_20241022 and text_editor_20250124)"
        raise InvalidArgument(
            f"unknown command {verb!r} for {name}{extra}; allowed: {', '.join(allowed)}",
            field=_INPUT + "command",
        )
    required, optional = allowed[verb]
    del fields["command"]
    _no_extra(fields, required | optional, f"command {verb!r} of {name}")
    missing = sorted(required - fields.keys())
    if missing:
        raise InvalidArgument(
            f"command {verb!r} of {name} is missing {', '.join(missing)}; "
            f"it takes {', '.join(sorted(required))}"
            + (f" and optionally {', '.join(sorted(optional))}" if optional else ""),
            violations=[
                FieldViolation(_INPUT + field, f"required by command {verb!r} of {name}")
                for field in missing
            ],
        )
    return _typed_edit(verb, fields), version


def _typed_edit(verb: str, fields: dict[str, Any]) -> shell_pb2.EditCommand:
    command = shell_pb2.EditCommand()
    path = _string(fields, "path")
    if verb == "view":
        command.view.path = path
        if "view_range" in fields:
            start, end = _view_range(fields["view_range"])
            command.view.view_range.start, command.view.view_range.end = start, end
    elif verb == "create":
        command.create.path = path
        command.create.file_text = _string(fields, "file_text")
    elif verb == "str_replace":
        command.str_replace.path = path
        command.str_replace.old_str = _string(fields, "old_str")
        if "new_str" in fields:
            command.str_replace.new_str = _string(fields, "new_str")
    elif verb == "insert":
        command.insert.path = path
        command.insert.insert_line = _int(fields, "insert_line")
        text_field = "insert_text" if "insert_text" in fields else "new_str"
        command.insert.insert_text = _string(fields, text_field)
    else:
        command.undo_edit.path = path
    return command


def _input(call: common_pb2.ToolCall) -> dict[str, Any]:
    if not call.HasField("input"):
        return {}
    try:
        fields = struct_to_dict(call.input)
    except NonFiniteNumber as exc:
        raise InvalidArgument(str(exc), field=_INPUT + exc.path) from None
    return {key: value for key, value in fields.items() if value is not None}


def _no_extra(fields: Mapping[str, Any], allowed: set[str], what: str) -> None:
    extra = sorted(set(fields) - allowed - {"command"})
    if extra:
        raise InvalidArgument(
            f"unexpected field {', '.join(map(repr, extra))} for {what}; "
            f"allowed fields: {', '.join(sorted(allowed | {'command'}))}",
            violations=[FieldViolation(_INPUT + name, f"not a field of {what}") for name in extra],
        )


def _string(fields: Mapping[str, Any], name: str) -> str:
    value = fields[name]
    if not isinstance(value, str):
        raise InvalidArgument(
            f"`{name}` must be a string, got {_type_name(value)}", field=_INPUT + name
        )
    return value


def _bool(fields: Mapping[str, Any], name: str) -> bool:
    value = fields[name]
    if not isinstance(value, bool):
        raise InvalidArgument(
            f"`{name}` must be true or false, got {_type_name(value)}", field=_INPUT + name
        )
    return value


def _int(fields: Mapping[str, Any], name: str) -> int:
    return _integral(fields[name], f"`{name}`", _INPUT + name)


def _integral(value: Any, what: str, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArgument(f"{what} must be an integer, got {_type_name(value)}", field=field)
    if isinstance(value, float) and not value.is_integer():
        raise InvalidArgument(f"{what} must be an integer, got {value}", field=field)
    if not _INT32[0] <= value <= _INT32[1]:
        raise InvalidArgument(f"{what} is out of range: {value}", field=field)
    return int(value)


def _view_range(value: Any) -> tuple[int, int]:
    if not isinstance(value, list) or len(value) != 2:
        raise InvalidArgument(
            "`view_range` must be a list of two integers [start, end] (end -1 for the end "
            f"of the file), got {value!r}",
            field=_INPUT + "view_range",
        )
    return (
        _integral(value[0], "view_range start", _INPUT + "view_range[0]"),
        _integral(value[1], "view_range end", _INPUT + "view_range[1]"),
    )


def _type_name(value: Any) -> str:
    names = {bool: "a boolean", str: "a string", list: "a list", dict: "an object"}
    return names.get(type(value), "a number" if isinstance(value, int | float) else "null")
