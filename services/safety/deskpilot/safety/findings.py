"""What a rule reports before the policy turns its category into a decision."""

from __future__ import annotations

from typing import NamedTuple


class Finding(NamedTuple):
    """A matched rule: stable id, category (decides the decision), short message."""

    rule_id: str
    category: str
    message: str
