"""Parse and validate computer actions per tool version. No X dependency.

The model's raw tool call (`ToolCall`: tool name + JSON input) becomes a typed
`ComputerAction` here, strictly for the version it was issued under: an unknown action,
a missing or extra field, a float where the API has an integer, or a value out of range
is an `InvalidArgument` naming the field and what is allowed (a raw call's also carries
the field's path, `tool_call.input.coordinate[0]`, as a BadRequest field violation).
Typed actions go through
the same per-version rules, so both paths accept exactly the same things.

What needs the screen (coordinate bounds) or the keymap (key names) is checked by the
executor, still before anything is sent to the display.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from deskpilot.common.errors import FieldViolation, InvalidArgument, naming
from deskpilot.common.struct_values import NonFiniteNumber, struct_to_dict
from deskpilot.v1 import common_pb2, display_pb2

V = common_pb2.ComputerToolVersion
V20241022 = V.COMPUTER_TOOL_VERSION_20241022
V20250124 = V.COMPUTER_TOOL_VERSION_20250124
V20251124 = V.COMPUTER_TOOL_VERSION_20251124
TOOLSET = V.COMPUTER_TOOL_VERSION_TOOLSET_20260801
UNSPECIFIED = V.COMPUTER_TOOL_VERSION_UNSPECIFIED
# Where a raw call's input fields sit in ActRequest.
_INPUT = "tool_call.input."
# A typed action's fields by the names the raw tool call gives them, where they differ.
_RAW_NAMES = {
    "duration_seconds": "duration",
    "direction": "scroll_direction",
    "amount": "scroll_amount",
    "modifiers": "text",
}
# The path in the ActRequest of one field of the action (by its typed name).
FieldPath = Callable[[str], str]


def field_path(raw: bool, action: str) -> FieldPath:
    """Where the fields of `action` sit: in the raw call's input, or in the typed action."""
    if raw:
        return lambda field: _INPUT + _RAW_NAMES.get(field, field)
    return lambda field: f"action.{action}.{field}"


TOOL_TYPES: dict[str, int] = {
    "computer_20241022": V20241022,
    "computer_20250124": V20250124,
    "computer_20251124": V20251124,
    "computer_toolset_20260801": TOOLSET,
}
VERSION_NAMES = {number: name for name, number in TOOL_TYPES.items()}

_ACTIONS_20241022 = (
    "key", "type", "mouse_move", "left_click", "left_click_drag", "right_click",
    "middle_click", "double_click", "screenshot", "cursor_position",
)  # fmt: skip
_ACTIONS_20250124 = (
    *_ACTIONS_20241022, "hold_key", "left_mouse_down", "left_mouse_up", "scroll",
    "triple_click", "wait",
)  # fmt: skip
ALL_ACTIONS = (*_ACTIONS_20250124, "zoom")

VERSION_ACTIONS: dict[int, frozenset[str]] = {
    V20241022: frozenset(_ACTIONS_20241022),
    V20250124: frozenset(_ACTIONS_20250124),
    V20251124: frozenset(ALL_ACTIONS),
    TOOLSET: frozenset(ALL_ACTIONS),
    UNSPECIFIED: frozenset(ALL_ACTIONS),
}

CLICK_ACTIONS = ("left_click", "right_click", "middle_click", "double_click", "triple_click")
SCROLL_DIRECTIONS = {
    "up": display_pb2.SCROLL_DIRECTION_UP,
    "down": display_pb2.SCROLL_DIRECTION_DOWN,
    "left": display_pb2.SCROLL_DIRECTION_LEFT,
    "right": display_pb2.SCROLL_DIRECTION_RIGHT,
}


@dataclass(frozen=True)
class ActionLimits:
    """Upper bounds that turn absurd requests into INVALID_ARGUMENT."""

    max_text_chars: int = 20_000
    max_repeat: int = 100
    max_scroll_amount: int = 100
    max_duration_seconds: float = 60.0


# --- raw tool calls ------------------------------------------------------------------


@dataclass(frozen=True)
class _Field:
    kind: str  # "text" | "int" | "number" | "point" | "rect" | "direction"
    required: bool


def _fields(version: int, action: str) -> dict[str, _Field]:
    """The input fields `action` accepts under `version` (besides "action")."""
    text, point = _Field("text", True), _Field("point", True)
    opt_point, opt_text = _Field("point", False), _Field("text", False)
    duration = _Field("int" if version == TOOLSET else "number", True)
    if version == V20241022:
        table: dict[str, dict[str, _Field]] = {
            "key": {"text": text},
            "type": {"text": text},
            "mouse_move": {"coordinate": point},
            "left_click_drag": {"coordinate": point},
        }
        return table.get(action, {})
    click = {"coordinate": opt_point, "text": opt_text}
    table = {
        "key": {"text": text},
        "hold_key": {"text": text, "duration": duration},
        "type": {"text": text},
        "mouse_move": {"coordinate": point},
        "left_click_drag": {"start_coordinate": point, "coordinate": point},
        "scroll": {
            "scroll_direction": _Field("direction", True),
            "scroll_amount": _Field("int", True),
            "coordinate": opt_point,
            "text": opt_text,
        },
        "wait": {"duration": duration},
        "zoom": {"region": _Field("rect", True)},
        **{name: click for name in CLICK_ACTIONS},
    }
    if version == TOOLSET:
        table["key"] = {"text": text, "repeat": _Field("int", False)}
        table["left_click_drag"] = {**table["left_click_drag"], "text": opt_text}
    return table.get(action, {})


def resolve_version(requested: int, tool_call: common_pb2.ToolCall | None = None) -> int:
    """The version to validate under: the request's, or the one the tool call names."""
    if requested not in VERSION_ACTIONS:
        raise InvalidArgument(f"unknown computer tool version {requested}", field="version")
    if tool_call is None or not tool_call.tool_type:
        if tool_call is not None and requested == UNSPECIFIED and tool_call.name != "computer":
            return TOOLSET  # a toolset member name is only valid under the toolset
        return requested
    from_type = TOOL_TYPES.get(tool_call.tool_type)
    if from_type is None:
        raise InvalidArgument(
            f"unknown tool_type {tool_call.tool_type!r}; expected one of {sorted(TOOL_TYPES)}",
            field="tool_call.tool_type",
        )
    if requested not in (UNSPECIFIED, from_type):
        raise InvalidArgument(
            f"tool_type {tool_call.tool_type!r} contradicts version {VERSION_NAMES[requested]}",
            violations=[
                FieldViolation("tool_call.tool_type", f"contradicts {VERSION_NAMES[requested]}"),
                FieldViolation("version", f"contradicts tool_type {tool_call.tool_type!r}"),
            ],
        )
    return from_type


def parse_tool_call(call: common_pb2.ToolCall, version: int) -> display_pb2.ComputerAction:
    """Turn the model's raw computer tool call into a typed action, strictly for `version`."""
    try:
        raw: dict[str, Any] = struct_to_dict(call.input) if call.HasField("input") else {}
    except NonFiniteNumber as exc:
        raise InvalidArgument(str(exc), field=_INPUT + exc.path) from None
    if version == TOOLSET:
        action = call.name
        if action not in VERSION_ACTIONS[TOOLSET]:
            raise InvalidArgument(
                f"unknown computer_toolset_20260801 member {call.name!r}; "
                f"expected one of {', '.join(ALL_ACTIONS)}",
                field="tool_call.name",
            )
    else:
        if call.name != "computer":
            raise InvalidArgument(
                f"tool name {call.name!r} is not the computer tool (expected 'computer' "
                "or a computer_toolset_20260801 member under that tool_type)",
                field="tool_call.name",
            )
        action = raw.pop("action", None)
        if not isinstance(action, str):
            raise InvalidArgument(
                "computer tool input needs an 'action' string", field=_INPUT + "action"
            )
        _check_action_allowed(action, version, _INPUT + "action")
    fields = _fields(version, action)
    extra = sorted(set(raw) - set(fields))
    if extra:
        allowed = ", ".join(fields) or "no fields"
        raise InvalidArgument(
            f"{action} does not accept {', '.join(extra)} under {_version_label(version)} "
            f"(it takes {allowed})",
            violations=[
                FieldViolation(_INPUT + name, f"not a field of {action}") for name in extra
            ],
        )
    values = {}
    for name, spec in fields.items():
        value = raw.get(name)
        if value is None:
            if spec.required:
                raise InvalidArgument(f"{action} needs '{name}'", field=_INPUT + name)
            continue
        values[name] = _convert(action, name, spec.kind, value)
    return _build(action, values)


def _convert(action: str, name: str, kind: str, value: Any) -> Any:
    where, field = f"{action}.{name}", _INPUT + name
    if kind == "text":
        if not isinstance(value, str):
            raise InvalidArgument(f"{where} must be a string, got {_json_type(value)}", field=field)
        return value
    if kind == "int":
        return _integer(where, value, field)
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidArgument(f"{where} must be a number, got {_json_type(value)}", field=field)
        if not math.isfinite(value):
            raise InvalidArgument(f"{where} must be finite", field=field)
        return float(value)
    if kind == "point":
        items = _int_list(where, value, 2, "[x, y]", field)
        return common_pb2.Point(x=items[0], y=items[1])
    if kind == "rect":
        items = _int_list(where, value, 4, "[x0, y0, x1, y1]", field)
        return common_pb2.Rect(x0=items[0], y0=items[1], x1=items[2], y1=items[3])
    if kind == "direction":
        if value not in SCROLL_DIRECTIONS:
            raise InvalidArgument(
                f"{where} must be one of {', '.join(SCROLL_DIRECTIONS)}", field=field
            )
        return SCROLL_DIRECTIONS[value]
    raise AssertionError(kind)


def _integer(where: str, value: Any, field: str) -> int:
    # JSON numbers arrive as floats through Struct: 3.0 is fine, 3.5 and true are not.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArgument(f"{where} must be an integer, got {_json_type(value)}", field=field)
    if not math.isfinite(value) or not float(value).is_integer():
        raise InvalidArgument(f"{where} must be an integer, got {value!r}", field=field)
    if abs(value) > 2**31 - 1:
        raise InvalidArgument(f"{where} is out of range: {value!r}", field=field)
    return int(value)


def _int_list(where: str, value: Any, size: int, shape: str, field: str) -> list[int]:
    if not isinstance(value, list) or len(value) != size:
        raise InvalidArgument(
            f"{where} must be {shape} ({size} integers), got {value!r}", field=field
        )
    return [_integer(f"{where}[{i}]", item, f"{field}[{i}]") for i, item in enumerate(value)]


def _json_type(value: Any) -> str:
    return {bool: "boolean", str: "string", float: "number", int: "number", list: "array",
            dict: "object", type(None): "null"}.get(type(value), type(value).__name__)  # fmt: skip


def _build(action: str, v: Mapping[str, Any]) -> display_pb2.ComputerAction:
    pb = display_pb2
    if action == "key":
        return pb.ComputerAction(key=pb.KeyAction(text=v["text"], repeat=v.get("repeat", 0)))
    if action == "hold_key":
        hold = pb.HoldKeyAction(text=v["text"], duration_seconds=v["duration"])
        return pb.ComputerAction(hold_key=hold)
    if action == "type":
        return pb.ComputerAction(type=pb.TypeAction(text=v["text"]))
    if action == "mouse_move":
        return pb.ComputerAction(mouse_move=pb.MouseMoveAction(coordinate=v["coordinate"]))
    if action in CLICK_ACTIONS:
        click = pb.ClickAction(modifiers=v.get("text", ""))
        if "coordinate" in v:
            click.coordinate.CopyFrom(v["coordinate"])
        return pb.ComputerAction(**{action: click})
    if action == "left_click_drag":
        drag = pb.DragAction(coordinate=v["coordinate"], modifiers=v.get("text", ""))
        if "start_coordinate" in v:
            drag.start_coordinate.CopyFrom(v["start_coordinate"])
        return pb.ComputerAction(left_click_drag=drag)
    if action == "scroll":
        scroll = pb.ScrollAction(
            direction=v["scroll_direction"], amount=v["scroll_amount"], modifiers=v.get("text", "")
        )
        if "coordinate" in v:
            scroll.coordinate.CopyFrom(v["coordinate"])
        return pb.ComputerAction(scroll=scroll)
    if action == "wait":
        return pb.ComputerAction(wait=pb.WaitAction(duration_seconds=v["duration"]))
    if action == "zoom":
        return pb.ComputerAction(zoom=pb.ZoomAction(region=v["region"]))
    empty = {
        "cursor_position": pb.CursorPositionAction(),
        "screenshot": pb.ScreenshotAction(),
        "left_mouse_down": pb.MouseButtonAction(),
        "left_mouse_up": pb.MouseButtonAction(),
    }
    return pb.ComputerAction(**{action: empty[action]})


# --- typed actions -------------------------------------------------------------------


def validate_action(
    action: display_pb2.ComputerAction, version: int, limits: ActionLimits, raw: bool = False
) -> str:
    """Check a typed action against `version`'s rules and `limits`; return its name.
    `raw`: it was parsed from a raw tool call, so a bad field is named as the call has it."""
    name = action.WhichOneof("action")
    if name is None:
        raise InvalidArgument("the request has no action", field="action")
    _check_action_allowed(name, version, "action")
    at = field_path(raw, name)
    body = getattr(action, name)
    label = _version_label(version)
    modifiers = getattr(body, "modifiers", "")
    if modifiers and (
        version == V20241022
        or (name == "left_click_drag" and version not in (TOOLSET, UNSPECIFIED))
    ):
        raise InvalidArgument(
            f"{name} takes no modifier keys ('text') under {label}", field=at("modifiers")
        )
    if name in CLICK_ACTIONS and version == V20241022 and body.HasField("coordinate"):
        raise InvalidArgument(
            f"{name} takes no coordinate under {label}; move the mouse with mouse_move first",
            field=at("coordinate"),
        )
    if name == "left_click_drag" and version != V20241022 and not body.HasField("start_coordinate"):
        raise InvalidArgument(
            f"left_click_drag needs 'start_coordinate' under {label}", field=at("start_coordinate")
        )
    if name in ("key", "hold_key", "type"):
        with naming(at("text")):
            _check_text(name, body.text, limits, allow_empty=False)
    if name == "key":
        if body.repeat and version not in (TOOLSET, UNSPECIFIED):
            raise InvalidArgument(f"key takes no 'repeat' under {label}", field=at("repeat"))
        if not 0 <= body.repeat <= limits.max_repeat:
            raise InvalidArgument(
                f"key.repeat must be 1..{limits.max_repeat}, got {body.repeat}", field=at("repeat")
            )
    if name in ("hold_key", "wait"):
        with naming(at("duration_seconds")):
            _check_duration(name, body.duration_seconds, limits)
    if name == "scroll":
        if body.direction not in SCROLL_DIRECTIONS.values():
            raise InvalidArgument(
                f"scroll.direction must be one of {', '.join(SCROLL_DIRECTIONS)}",
                field=at("direction"),
            )
        if not 1 <= body.amount <= limits.max_scroll_amount:
            raise InvalidArgument(
                f"scroll amount must be 1..{limits.max_scroll_amount}, got {body.amount}",
                field=at("amount"),
            )
    if name == "zoom":
        r = body.region
        if r.x1 <= r.x0 or r.y1 <= r.y0:
            raise InvalidArgument(
                f"zoom region [{r.x0}, {r.y0}, {r.x1}, {r.y1}] is empty or inverted: "
                "need x0 < x1 and y0 < y1",
                field=at("region"),
            )
    return name


def _check_action_allowed(name: str, version: int, field: str = "") -> None:
    allowed = VERSION_ACTIONS[version]
    if name not in allowed:
        known = "unknown action" if name not in ALL_ACTIONS else "action not available"
        raise InvalidArgument(
            f"{known} {name!r} under {_version_label(version)}; "
            f"expected one of {', '.join(a for a in ALL_ACTIONS if a in allowed)}",
            field=field,
        )


def _check_text(name: str, text: str, limits: ActionLimits, *, allow_empty: bool) -> None:
    if not text and not allow_empty:
        raise InvalidArgument(f"{name} needs non-empty 'text'")
    if len(text) > limits.max_text_chars:
        raise InvalidArgument(
            f"{name}.text has {len(text)} characters; the limit is {limits.max_text_chars}"
        )


def _check_duration(name: str, seconds: float, limits: ActionLimits) -> None:
    if not math.isfinite(seconds) or not 0 <= seconds <= limits.max_duration_seconds:
        raise InvalidArgument(
            f"{name}.duration must be 0..{limits.max_duration_seconds:g} seconds, got {seconds!r}"
        )


def _version_label(version: int) -> str:
    return VERSION_NAMES.get(version, "the newest computer tool")
