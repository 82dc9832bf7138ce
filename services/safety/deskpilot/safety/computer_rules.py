"""Rules for computer-use actions: what is typed and where, and what a click lands on."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from deskpilot.safety.domains import host_of_plain, host_of_url, is_allowed
from deskpilot.safety.findings import Finding
from deskpilot.safety.policy import Policy
from deskpilot.safety.secrets_scan import find_card_number, find_secret
from deskpilot.safety.shell_rules import shell_findings
from deskpilot.safety.verdict import Decision

CLICK_ACTIONS = frozenset(
    {
        "left_click",
        "double_click",
        "triple_click",
        "right_click",
        "middle_click",
        "left_mouse_up",
        "left_click_drag",
    }
)
COMPUTER_ACTIONS = CLICK_ACTIONS | {
    "key",
    "hold_key",
    "type",
    "cursor_position",
    "mouse_move",
    "left_mouse_down",
    "scroll",
    "wait",
    "screenshot",
    "zoom",
}
_ADDRESS_BAR_KEYS = re.compile(r"^(ctrl|control|cmd|super)\+l$|^f6$|^alt\+d$", re.I)
_BROWSER_TITLE = re.compile(r"firefox|mozilla|chrom(e|ium)|brave|edge|epiphany|browser", re.I)
_ENTER_KEYS = re.compile(r"^(return|enter|kp_enter)$", re.I)
_TERMINAL_TITLE = re.compile(
    r"terminal|xterm|konsole|tilix|alacritty|kitty|urxvt|terminator|\bbash\b|\bzsh\b|"
    r"^\S+@\S+:",
    re.I,
)
# What a button says -> (rule id, category, what clicking it does)
CLICK_LABELS: tuple[tuple[re.Pattern[str], str, str, str], ...] = tuple(
    (re.compile(pattern, re.I), rule_id, category, message)
    for pattern, rule_id, category, message in (
        (
            r"\b(pay|buy|purchase|place\s*(your\s*)?order|check\s*out|checkout|subscribe|"
            r"donate|complete\s*purchase|confirm\s*(payment|order)|"
            r"transfer|withdraw|book\s*now|rent|upgrade\s*now)\b",
            "computer.click-payment",
            "payment",
            "Clicks “{label}”, which may spend money.",
        ),
        (
            r"\b(accept|agree|i\s*agree|allow\s*all|consent|got\s*it)\b",
            "computer.click-accept",
            "terms",
            "Clicks “{label}”, accepting terms or cookies.",
        ),
        (
            r"\b(send|post|publish|tweet|reply|share|submit\s*review|comment)\b",
            "computer.click-send",
            "messaging",
            "Clicks “{label}”, which sends or posts.",
        ),
        (
            r"\b(delete|remove|erase|empty\s*trash|discard|wipe|uninstall)\b",
            "computer.click-delete",
            "deletion",
            "Clicks “{label}”, which deletes something.",
        ),
        (
            r"\b(install|download\s*and\s*install)\b",
            "computer.click-install",
            "install_software",
            "Clicks “{label}”, installing software.",
        ),
    )
)

# Reads the label under a point of a screenshot: (encoded image, x, y) -> text.
LabelReader = Callable[[bytes, int, int], str]


class ComputerInputError(ValueError):
    """The computer call's input is malformed."""


@dataclass(frozen=True)
class ComputerContext:
    """What CheckAction knows around a computer action."""

    screenshot: bytes = b""
    window_title: str = ""
    url: str = ""
    previous_action: str = ""
    previous_text: str = ""
    previous_coordinate: tuple[int, int] | None = None


def computer_action(tool_name: str, tool_input: dict[str, Any]) -> str:
    """The action name: input.action for `computer`, the tool name for toolset members."""
    if tool_name != "computer":
        if tool_name not in COMPUTER_ACTIONS:
            raise ComputerInputError(f"unknown tool {tool_name!r}")
        return tool_name
    action = tool_input.get("action")
    if not isinstance(action, str) or action not in COMPUTER_ACTIONS:
        raise ComputerInputError(
            f"computer input.action must be one of {', '.join(sorted(COMPUTER_ACTIONS))}, "
            f"got {action!r}"
        )
    return action


def computer_findings(
    action: str,
    tool_input: dict[str, Any],
    context: ComputerContext,
    policy: Policy,
    read_label: LabelReader | None,
) -> Iterator[Finding]:
    """Findings for one computer action."""
    if action == "type":
        text = tool_input.get("text")
        if not isinstance(text, str):
            raise ComputerInputError("computer type needs input.text as a string")
        yield from _typing(text, context, policy)
    elif action == "key" and _ENTER_KEYS.match(str(tool_input.get("text", "")).strip()):
        # Enter after typing a bare address in a browser navigates there.
        if context.previous_action == "type" and _in_browser(context):
            yield from _navigation(context.previous_text, policy)
    elif action in CLICK_ACTIONS and context.screenshot and read_label is not None:
        # Without a coordinate the click lands where the pointer was moved last.
        point = _coordinate(tool_input, action) or context.previous_coordinate
        if point is not None:
            label = read_label(context.screenshot, *point)
            yield from click_label_findings(label)


def click_label_findings(label: str) -> Iterator[Finding]:
    """Findings for the text under a click."""
    label = " ".join(label.split())
    if not label:
        return
    for pattern, rule_id, category, message in CLICK_LABELS:
        if pattern.search(label):
            yield Finding(rule_id, category, message.format(label=label[:40]))


def _typing(text: str, context: ComputerContext, policy: Policy) -> Iterator[Finding]:
    card = find_card_number(text)
    if card:
        yield Finding(
            "computer.type-card-number", "payment", f"Types a payment card number ({card})."
        )
    secret = find_secret(text)
    if secret:
        yield Finding("computer.type-secret", "secret_entry", f"Types {secret}.")
    address_bar = context.previous_action == "key" and bool(
        _ADDRESS_BAR_KEYS.match(context.previous_text.strip())
    )
    # A lone address followed by Enter in a browser navigates, wherever the focus was.
    entered = text.endswith("\n") and len(text.split()) == 1 and _in_browser(context)
    if address_bar or entered:
        yield from _navigation(text, policy)
    if _TERMINAL_TITLE.search(context.window_title):
        yield from shell_findings(text, policy)
    elif not context.window_title and text.endswith("\n"):
        # Unknown window: a typed command line still must not destroy or exfiltrate.
        for finding in shell_findings(text, policy):
            if policy.decision_for(finding.category) == Decision.BLOCK:
                yield finding


def _in_browser(context: ComputerContext) -> bool:
    return bool(context.url) or bool(_BROWSER_TITLE.search(context.window_title))


def _navigation(text: str, policy: Policy) -> Iterator[Finding]:
    target = text.strip().split()[0] if text.strip() else ""
    host = host_of_url(target) if "://" in target else host_of_plain(target)
    if host and not is_allowed(host, policy.allowed_domains, policy.allow_loopback):
        yield Finding(
            "network.navigate-not-allowed",
            "network",
            f"Opens {host} in the browser, outside the allow-list.",
        )


def _coordinate(tool_input: dict[str, Any], action: str) -> tuple[int, int] | None:
    key = "coordinate"
    if action == "left_click_drag" and "coordinate" not in tool_input:
        key = "end_coordinate"
    value = tool_input.get(key)
    if value is None:
        return None
    if (
        not isinstance(value, list | tuple)
        or len(value) != 2
        or not all(isinstance(v, int | float) for v in value)
    ):
        raise ComputerInputError(f"computer {action} input.{key} must be [x, y], got {value!r}")
    return int(value[0]), int(value[1])
