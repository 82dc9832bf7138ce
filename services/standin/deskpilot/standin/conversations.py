"""A script played to each conversation from its start, as the demo is: the answer to a
request is chosen by how many assistant turns its conversation already has, so every
session sharing one stand-in gets the whole script.

An error turn stands before the turn it delays and is served once per conversation
position: the request it fails, retried, gets the next error there or the turn. A retry
is told apart from a new conversation that happens to look the same (two sessions given
the same task) by the SDK's `x-stainless-retry-count` header; without that header,
repeats of the very same request count as retries.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from deskpilot.standin.script import (
    FINISHED_TEXT,
    Script,
    TextBlock,
    Turn,
    TurnLike,
    as_turn,
    parse_turns,
)

_REMEMBERED_REQUESTS = 10_000  # attempts counted per distinct request, oldest forgotten


@dataclass(frozen=True)
class _Position:
    """What one conversation position is answered with: its errors, then its turn."""

    errors: tuple[Turn, ...]
    turn: Turn | None  # None: the script ended in errors


def _positions(turns: Iterable[Turn]) -> list[_Position]:
    positions, errors = [], []
    for turn in turns:
        if turn.error is not None:
            errors.append(turn)
        else:
            positions.append(_Position(tuple(errors), turn))
            errors = []
    if errors:
        positions.append(_Position(tuple(errors), None))
    return positions


class ConversationScript(Script):
    """Turns played per conversation; see the module docstring."""

    def __init__(self, turns: Iterable[TurnLike] = ()) -> None:
        super().__init__()
        self._positions = _positions(as_turn(t) for t in turns)
        self._attempts: OrderedDict[str, int] = OrderedDict()

    @classmethod
    def from_json(cls, data: Any) -> ConversationScript:
        return cls(parse_turns(data))

    @property
    def remaining(self) -> int:
        """Every conversation gets every turn: none is ever used up."""
        return sum(len(p.errors) + (p.turn is not None) for p in self._positions)

    async def next_turn(self, request: dict[str, Any], retries: int | None = None) -> Turn:
        self.turns_served += 1
        messages = request.get("messages", [])
        index = sum(1 for m in messages if isinstance(m, dict) and m.get("role") == "assistant")
        attempt = retries if retries is not None else self._count_attempt(messages)
        if index < len(self._positions):
            position = self._positions[index]
            if attempt < len(position.errors):
                return position.errors[attempt]
            if position.turn is not None:
                return position.turn
        return Turn(content=[TextBlock(text=FINISHED_TEXT)], stop_reason="end_turn")

    def _count_attempt(self, messages: list[Any]) -> int:
        """How often this very conversation was asked about before."""
        key = hashlib.sha256(json.dumps(messages, sort_keys=True).encode()).hexdigest()
        attempt = self._attempts.pop(key, -1) + 1
        self._attempts[key] = attempt
        if len(self._attempts) > _REMEMBERED_REQUESTS:
            self._attempts.popitem(last=False)
        return attempt
