"""What a rule reports before the policy turns its category into a decision, and what it
raises when the call's input cannot be judged."""

from __future__ import annotations

from typing import NamedTuple


class Finding(NamedTuple):
    """A matched rule: stable id, category (decides the decision), short message."""

    rule_id: str
    category: str
    message: str


class InputError(ValueError):
    """A call's input cannot be judged; `field` is the bad field's path in the
    CheckAction request (`call.input.path`), empty when none is to blame alone."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field
