"""Decisions, reasons and how they combine into one verdict."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass


class Decision(enum.IntEnum):
    """Ordered by strictness, so `max` picks the strictest (values match the proto enum)."""

    ALLOW = 1
    CONFIRM = 2
    BLOCK = 3

    @classmethod
    def parse(cls, value: str) -> Decision:
        """'allow' / 'confirm' / 'block' (any case) to a Decision."""
        return cls[value.strip().upper()]


@dataclass(frozen=True)
class Reason:
    """One rule that matched: what it asks for and a sentence for the person deciding."""

    rule_id: str
    category: str
    decision: Decision
    message: str


@dataclass(frozen=True)
class Verdict:
    """The strictest decision of all reasons, and the reasons strictest first."""

    decision: Decision
    reasons: tuple[Reason, ...]

    @classmethod
    def of(cls, reasons: Iterable[Reason]) -> Verdict:
        """Combine reasons: duplicates (same rule and message) dropped, strictest first."""
        unique: dict[tuple[str, str], Reason] = {}
        for reason in reasons:
            key = (reason.rule_id, reason.message)
            if key not in unique or unique[key].decision < reason.decision:
                unique[key] = reason
        ordered = sorted(unique.values(), key=lambda r: -r.decision)
        decision = ordered[0].decision if ordered else Decision.ALLOW
        return cls(decision, tuple(ordered))

    @property
    def rule_ids(self) -> list[str]:
        """Ids of the reasons, strictest first."""
        return [r.rule_id for r in self.reasons]
