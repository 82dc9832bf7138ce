"""CheckAction's logic: route a tool call to its rules, apply the policy, add taint."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from deskpilot.safety.computer_rules import (
    ComputerContext,
    ComputerInputError,
    LabelReader,
    computer_action,
    computer_findings,
)
from deskpilot.safety.editor_rules import (
    EDITOR_TOOLS,
    EditorInputError,
    editor_findings,
    editor_text,
)
from deskpilot.safety.findings import Finding, InputError
from deskpilot.safety.policy import Policy
from deskpilot.safety.screen_cache import ImageError
from deskpilot.safety.shell_rules import shell_findings
from deskpilot.safety.taint import TaintStore
from deskpilot.safety.ui_context import UiSnapshot
from deskpilot.safety.verdict import Decision, Reason, Verdict

MAX_COMMAND_CHARS = 100_000
TAINT_RULE = "injection.tainted"  # the reason a tainted session's actions carry


class ActionInputError(InputError):
    """The tool call cannot be judged because its input is malformed."""


@dataclass(frozen=True)
class ActionSituation:
    """The caller's context for one action (the ActionContext proto, as plain data)."""

    session_id: str = ""
    screenshot: bytes = b""
    url: str = ""
    window_title: str = ""
    tainted: bool = False
    previous_tool: str = ""
    previous_input: dict[str, Any] | None = None
    ui: UiSnapshot = field(default_factory=UiSnapshot)


class ActionChecker:
    """Judges tool calls under a policy; remembers tainted sessions."""

    def __init__(
        self, taint: TaintStore | None = None, read_label: LabelReader | None = None
    ) -> None:
        self.taint = taint or TaintStore()
        self.read_label = read_label

    def check(
        self, tool: str, tool_input: dict[str, Any], situation: ActionSituation, policy: Policy
    ) -> Verdict:
        """The verdict for one call; raises ActionInputError when the input is malformed."""
        if not isinstance(tool_input, dict):
            raise ActionInputError("tool input must be a JSON object", "call.input")
        findings, text = self._findings(tool, tool_input, situation, policy)
        reasons = [
            Reason(f.rule_id, f.category, policy.decision_for(f.category), f.message)
            for f in findings
        ]
        reasons.extend(_custom_rules(tool, text, policy))
        reasons.extend(self._taint_reasons(situation, policy))
        return Verdict.of(reasons)

    def _findings(
        self, tool: str, tool_input: dict[str, Any], situation: ActionSituation, policy: Policy
    ) -> tuple[list[Finding], str]:
        if tool == "bash":
            if tool_input.get("restart") is True and "command" not in tool_input:
                return [], "restart"
            command = tool_input.get("command")
            if not isinstance(command, str) or not command.strip():
                raise ActionInputError(
                    "bash input.command must be a non-empty string (or restart: true)",
                    "call.input.command",
                )
            if len(command) > MAX_COMMAND_CHARS:
                finding = Finding(
                    "shell.too-long",
                    "unknown_tool",
                    f"The command is too long to judge ({len(command)} chars).",
                )
                return [finding], command
            return shell_findings(command, policy), command
        if tool in EDITOR_TOOLS:
            try:
                return list(editor_findings(tool_input)), editor_text(tool_input)
            except EditorInputError as exc:
                raise ActionInputError(str(exc), exc.field) from None
        try:
            action = computer_action(tool, tool_input)
        except ComputerInputError as exc:
            if tool == "computer":
                raise ActionInputError(str(exc), exc.field) from None
            finding = Finding(
                "tool.unknown", "unknown_tool", f"The gate does not know the tool {tool!r}."
            )
            return [finding], tool
        previous = situation.previous_input or {}
        context = ComputerContext(
            screenshot=situation.screenshot,
            window_title=situation.window_title,
            url=situation.url,
            previous_action=_previous_action(situation.previous_tool, previous),
            previous_text=str(previous.get("text", "")),
            previous_coordinate=_point(previous.get("coordinate")),
            ui=situation.ui,
        )
        try:
            findings = list(computer_findings(action, tool_input, context, policy, self.read_label))
        except ComputerInputError as exc:
            raise ActionInputError(str(exc), exc.field) from None
        except ImageError as exc:  # the click is judged on a screenshot that does not decode
            raise ActionInputError(f"context.screenshot: {exc}", "context.screenshot") from None
        text = f"{action} {tool_input.get('text', '')}".strip()
        return findings, text

    def _taint_reasons(self, situation: ActionSituation, policy: Policy) -> Iterable[Reason]:
        decision = policy.decision_for("injection")
        mark = self.taint.consume(situation.session_id) if situation.session_id else None
        if situation.tainted or mark is not None:
            where = f" in {mark.source}" if mark else ""
            yield Reason(
                TAINT_RULE,
                "injection",
                decision,
                f"Content the agent just saw{where} looks like a prompt injection.",
            )


def _custom_rules(tool: str, text: str, policy: Policy) -> Iterable[Reason]:
    for rule in policy.rules:
        if rule.tools and tool not in rule.tools:
            continue
        if rule.pattern.search(text):
            yield Reason(rule.id, "custom", rule.decision, rule.reason)


def _point(value: Any) -> tuple[int, int] | None:
    if (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(isinstance(v, int | float) for v in value)
    ):
        return int(value[0]), int(value[1])
    return None


def _previous_action(tool: str, tool_input: dict[str, Any]) -> str:
    if not tool:
        return ""
    if tool == "computer":
        return str(tool_input.get("action", ""))
    return tool


__all__ = ["TAINT_RULE", "ActionChecker", "ActionInputError", "ActionSituation", "Decision"]
