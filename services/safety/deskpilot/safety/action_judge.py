"""The second-stage judge before a consequential action: when CheckAction asks it, how the
action is put in words, and what its answer does to the verdict.

It is asked only when the local rules already want a person to confirm the action for
what the action itself does (a payment, a message, a secret typed, a risky command), the
session is tainted and the gate still holds the content that flagged it. Its answer can
only make the verdict stricter: steered, or no usable answer, is a BLOCK; not steered
leaves the CONFIRM as it was.
"""

from __future__ import annotations

import json
from typing import Any

from deskpilot.safety.action_check import TAINT_RULE, ActionSituation
from deskpilot.safety.verdict import Decision, Reason, Verdict
from deskpilot.v1 import safety_pb2

SECRET_CATEGORIES = frozenset({"payment", "secret_entry"})


def _action_reasons(verdict: Verdict) -> list[Reason]:
    """The CONFIRM reasons about the action itself (the taint asks for one on any action)."""
    return [
        r for r in verdict.reasons if r.decision == Decision.CONFIRM and r.rule_id != TAINT_RULE
    ]


def should_ask(verdict: Verdict, situation: ActionSituation) -> bool:
    """A consequential action (CONFIRM for what it does) in a tainted session."""
    tainted = situation.tainted or TAINT_RULE in verdict.rule_ids
    return (
        tainted
        and bool(situation.session_id)
        and verdict.decision == Decision.CONFIRM
        and bool(_action_reasons(verdict))
    )


def describe(tool: str, tool_input: dict[str, Any], verdict: Verdict) -> str:
    """The action in the gate's words: why its rules want it confirmed, then the call."""
    reasons = _action_reasons(verdict)
    why = " ".join(r.message for r in reasons)
    shown = dict(tool_input)
    # A card number or password stays on the machine: the rules' sentence says what it is.
    if "text" in shown and any(r.category in SECRET_CATEGORIES for r in reasons):
        shown["text"] = "(withheld: a secret the gate does not send to the judge)"
    call = json.dumps(shown, ensure_ascii=False, sort_keys=True)
    return f"{why} The {tool} tool call's input: {call}"


def judged(verdict: Verdict, report: safety_pb2.JudgeReport) -> Verdict:
    """The verdict after the judge's answer: BLOCK when it finds steering or fails,
    unchanged otherwise (not asked, over budget, or not steered)."""
    if not report.asked or not report.injection:  # failed answers say injection too
        return verdict
    if report.failed:
        reason = Reason(
            "judge.failed",
            "injection",
            Decision.BLOCK,
            f"The safety judge ({report.model}) gave no usable answer about this action in a "
            f"session that read flagged content, so it is blocked: {report.reason}",
        )
    else:
        reason = Reason(
            "judge.steered",
            "injection",
            Decision.BLOCK,
            f"The safety judge ({report.model}) finds that flagged content the agent read "
            f"steers it toward this action: {report.reason}",
        )
    return Verdict.of([*verdict.reasons, reason])
