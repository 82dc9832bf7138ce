"""Rules for computer-use actions: what is typed and where, and what a click lands on."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from deskpilot.safety.domains import host_of_plain, host_of_url, is_allowed
from deskpilot.safety.findings import Finding, InputError
from deskpilot.safety.policy import Policy
from deskpilot.safety.secrets_scan import find_card_number, find_secret
from deskpilot.safety.shell_rules import shell_findings
from deskpilot.safety.ui_context import CLICKABLE_ROLES, PASSWORD_ROLE, UiSnapshot
from deskpilot.safety.verdict import Decision
from deskpilot.safety.vocabulary import Group, Vocabulary

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
# Reads the label under a point of a screenshot: (encoded image, x, y) -> text.
LabelReader = Callable[[bytes, int, int], str]


class ComputerInputError(InputError):
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
    ui: UiSnapshot = field(default_factory=UiSnapshot)


def computer_action(tool_name: str, tool_input: dict[str, Any]) -> str:
    """The action name: input.action for `computer`, the tool name for toolset members."""
    if tool_name != "computer":
        if tool_name not in COMPUTER_ACTIONS:
            raise ComputerInputError(f"unknown tool {tool_name!r}", "call.name")
        return tool_name
    action = tool_input.get("action")
    if not isinstance(action, str) or action not in COMPUTER_ACTIONS:
        raise ComputerInputError(
            f"computer input.action must be one of {', '.join(sorted(COMPUTER_ACTIONS))}, "
            f"got {action!r}",
            "call.input.action",
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
            raise ComputerInputError(
                "computer type needs input.text as a string", "call.input.text"
            )
        yield from _typing(text, context, policy)
    elif action == "key" and _ENTER_KEYS.match(str(tool_input.get("text", "")).strip()):
        # Enter after typing a bare address in a browser navigates there.
        if context.previous_action == "type" and _in_browser(context):
            yield from _navigation(context.previous_text, policy)
    elif action in CLICK_ACTIONS:
        # Without a coordinate the click lands where the pointer was moved last.
        point = _coordinate(tool_input, action) or context.previous_coordinate
        on_screen = ""
        if point is not None and context.screenshot and read_label is not None:
            on_screen = read_label(context.screenshot, *point)
        yield from click_findings(context.ui, on_screen, policy.vocabulary)


def click_findings(ui: UiSnapshot, on_screen: str, vocabulary: Vocabulary) -> Iterator[Finding]:
    """Findings for a click: by the accessible name of the widget under it and by the text
    OCR reads there (a page author controls the first, the pixels the second), and for a
    plain OK or Yes, by the dialog it answers."""
    named = " ".join(ui.widget.what_it_says.split()) if ui.available else ""
    on_screen = " ".join(on_screen.split())
    seen: set[str] = set()
    hits = {}
    for text in (named, on_screen):
        hit = vocabulary.click(text)
        if hit is not None:
            hits[text] = hit
            if hit.group.id not in seen:
                seen.add(hit.group.id)
                yield _click_finding("computer.click-", hit.group, text)
    clickable = ui.widget.role in CLICKABLE_ROLES
    if clickable and (named in hits) != (on_screen in hits) and _disagree(named, on_screen):
        yield Finding(
            "computer.label-mismatch",
            "label_mismatch",
            f"The control is named “{named[:40]}” but shows “{on_screen[:40]}”.",
        )
    label = named or on_screen
    if not hits and label and vocabulary.only_confirms(label):
        dialog = " ".join(f"{ui.dialog_title} {ui.dialog_text}".split())
        hit = vocabulary.click(dialog)
        if hit is not None:
            yield Finding(
                f"computer.confirm-{hit.group.id}",
                hit.group.category,
                f"Clicks “{label[:40]}” in “{dialog[:60]}”, which {hit.group.does}.",
            )


def _click_finding(prefix: str, group: Group, label: str) -> Finding:
    return Finding(
        f"{prefix}{group.id}", group.category, f"Clicks “{label[:40]}”, which {group.does}."
    )


def _disagree(named: str, on_screen: str) -> bool:
    """Whether two labels of one control share no word (ignoring short OCR debris)."""
    first = {w for w in named.lower().split() if len(w) > 2}
    second = {w for w in on_screen.lower().split() if len(w) > 2}
    return bool(first) and bool(second) and not first & second


def _typing(text: str, context: ComputerContext, policy: Policy) -> Iterator[Finding]:
    card = find_card_number(text)
    if card:
        yield Finding(
            "computer.type-card-number", "payment", f"Types a payment card number ({card})."
        )
    secret = find_secret(text)
    if secret:
        yield Finding("computer.type-secret", "secret_entry", f"Types {secret}.")
    yield from _field_findings(
        context.ui, policy.vocabulary, already={"payment"} if card else set()
    )
    address_bar = context.previous_action == "key" and bool(
        _ADDRESS_BAR_KEYS.match(context.previous_text.strip())
    )
    # A lone address followed by Enter in a browser navigates, wherever the focus was.
    entered = text.endswith("\n") and len(text.split()) == 1 and _in_browser(context)
    if address_bar or entered or _focus_in_address_bar(context, policy.vocabulary):
        yield from _navigation(text, policy)
    if _TERMINAL_TITLE.search(context.window_title) or _TERMINAL_TITLE.search(
        context.ui.window_class
    ):
        yield from shell_findings(text, policy)
    elif not context.window_title and text.endswith("\n"):
        # Unknown window: a typed command line still must not destroy or exfiltrate.
        for finding in shell_findings(text, policy):
            if policy.decision_for(finding.category) == Decision.BLOCK:
                yield finding


def _field_findings(ui: UiSnapshot, vocabulary: Vocabulary, already: set[str]) -> Iterator[Finding]:
    """Typing judged by the field it goes into: a password or card field needs a person
    whatever the text looks like (a CVV is three digits)."""
    if not ui.available:
        return
    field = ui.focused
    named = " ".join(field.field_text.split())
    if field.role == PASSWORD_ROLE:
        yield Finding(
            "computer.type-into-secret",
            "secret_entry",
            f"Types into the password field “{named[:40] or 'password'}”.",
        )
        return
    hit = vocabulary.field(named)
    if hit is not None and hit.group.category not in already:
        yield Finding(
            f"computer.type-into-{hit.group.id}",
            hit.group.category,
            f"Types into “{named[:40]}”, {hit.group.does}.",
        )


def _focus_in_address_bar(context: ComputerContext, vocabulary: Vocabulary) -> bool:
    ui = context.ui
    if not ui.available:
        return False
    return ui.focus_in_address_bar or (
        _in_browser(context) and vocabulary.names_address_bar(ui.focused.name)
    )


def _in_browser(context: ComputerContext) -> bool:
    return (
        bool(context.url or context.ui.url)
        or bool(_BROWSER_TITLE.search(context.window_title))
        or bool(_BROWSER_TITLE.search(context.ui.window_class))
    )


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
        raise ComputerInputError(
            f"computer {action} input.{key} must be [x, y], got {value!r}", f"call.input.{key}"
        )
    return int(value[0]), int(value[1])
