"""The script: what the stand-in answers, turn by turn.

A turn is either an assistant message (a list of text, thinking and tool_use blocks, with
an optional stop_reason) or an injected HTTP error, so SDK retries can be exercised.

JSON file format (a list of turns, or `{"turns": [...]}`)::

    {"turns": [
      {"content": [{"type": "thinking", "thinking": "Look first."},
                   {"type": "tool_use", "name": "computer", "input": {"action": "screenshot"}}]},
      {"error": {"status": 529}},
      {"error": {"status": 429, "retry_after": 0.1}},
      {"error": {"status": 529, "in_stream": true}},
      "A plain string is a text turn that ends the turn."
    ]}

After the listed turns, a `responder` callable (Python API only) is asked for each next
turn with the request body it answers; it returns a turn (or None when it is done). When
nothing is left, the answer is an end_turn text "(stand-in script finished)".
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from deskpilot.standin.errors import ERROR_TYPES_BY_STATUS

FINISHED_TEXT = "(stand-in script finished)"

StopReason = Literal["end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal"]


class _Block(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TextBlock(_Block):
    type: Literal["text"] = "text"
    text: str = Field(min_length=1)


class ThinkingBlock(_Block):
    type: Literal["thinking"] = "thinking"
    thinking: str
    # Normally left out: the stand-in signs its thinking so it can check it comes back.
    signature: str | None = None


class ToolUseBlock(_Block):
    type: Literal["tool_use"] = "tool_use"
    name: str = Field(min_length=1)
    input: dict[str, Any] = Field(default_factory=dict)
    id: str | None = Field(None, description="Generated as toolu_... when left out.")


ScriptBlock = Annotated[TextBlock | ThinkingBlock | ToolUseBlock, Field(discriminator="type")]


class ScriptedError(BaseModel):
    """An HTTP error answered instead of a turn."""

    model_config = ConfigDict(extra="forbid")

    status: int = Field(ge=400, le=599)
    type: str | None = Field(None, description="Error type; defaults to the API's for status.")
    message: str | None = None
    retry_after: float | None = Field(None, ge=0, description="Seconds, sent as retry-after.")
    in_stream: bool = Field(
        False,
        description="For a streamed request, fail mid-answer: HTTP 200, message_start, "
        "then an `event: error` (as the API does when it is overloaded mid-stream).",
    )

    @property
    def error_type(self) -> str:
        return self.type or ERROR_TYPES_BY_STATUS.get(self.status, "api_error")

    @property
    def text(self) -> str:
        return self.message or f"{self.error_type} (scripted by the stand-in)"


class Turn(BaseModel):
    """One scripted answer: content blocks, or an error."""

    model_config = ConfigDict(extra="forbid")

    content: list[ScriptBlock] = Field(default_factory=list)
    stop_reason: StopReason | None = Field(
        None, description="Defaults to tool_use when the turn has a tool_use, else end_turn."
    )
    error: ScriptedError | None = None

    @classmethod
    def text(cls, text: str) -> Turn:
        """A turn that says `text` and ends."""
        return cls(content=[TextBlock(text=text)])

    @classmethod
    def tool_use(
        cls,
        name: str,
        input: dict[str, Any],
        *,
        text: str | None = None,
        thinking: str | None = None,
    ) -> Turn:
        """A turn that calls one tool, optionally after some thinking and text."""
        blocks: list[Any] = []
        if thinking is not None:
            blocks.append(ThinkingBlock(thinking=thinking))
        if text is not None:
            blocks.append(TextBlock(text=text))
        blocks.append(ToolUseBlock(name=name, input=input))
        return cls(content=blocks)

    @classmethod
    def failure(cls, status: int, *, retry_after: float | None = None, **extra: Any) -> Turn:
        """An injected HTTP error (e.g. 529 overloaded, 429 with retry-after)."""
        return cls(error=ScriptedError(status=status, retry_after=retry_after, **extra))

    @property
    def resolved_stop_reason(self) -> StopReason:
        if self.stop_reason is not None:
            return self.stop_reason
        has_tool_use = any(isinstance(b, ToolUseBlock) for b in self.content)
        return "tool_use" if has_tool_use else "end_turn"


TurnLike = Turn | dict[str, Any] | str
Responder = Callable[[dict[str, Any]], "TurnLike | Awaitable[TurnLike | None] | None"]
_TURNS = TypeAdapter(list[Turn | str])


def parse_turns(data: Any) -> list[Turn]:
    """The turns of a script's JSON form: a list of turns or `{"turns": [...]}`."""
    turns = data.get("turns") if isinstance(data, dict) else data
    return [as_turn(t) for t in _TURNS.validate_python(turns)]


def as_turn(value: TurnLike) -> Turn:
    """A Turn from a Turn, its JSON form, or a plain string (a text turn)."""
    if isinstance(value, Turn):
        return value
    if isinstance(value, str):
        return Turn.text(value)
    return Turn.model_validate(value)


class Script:
    """Turns answered in order, then a responder's turns, then a finished text turn."""

    def __init__(self, turns: Iterable[TurnLike] = (), responder: Responder | None = None) -> None:
        self._turns = [as_turn(t) for t in turns]
        self._responder = responder
        self.turns_served = 0

    @classmethod
    def from_json(cls, data: Any) -> Script:
        """A script from its JSON form: a list of turns or `{"turns": [...]}`."""
        return cls(parse_turns(data))

    @classmethod
    def from_file(cls, path: str | Path) -> Script:
        """A script from a JSON file (see the module docstring for the format)."""
        return cls.from_json(json.loads(Path(path).read_text()))

    @property
    def remaining(self) -> int:
        """Listed turns not served yet (a responder's turns are not counted)."""
        return len(self._turns)

    async def next_turn(self, request: dict[str, Any], retries: int | None = None) -> Turn:
        """The answer to `request`: the next listed turn, the responder's, or finished.

        `retries`: how often the client says it has retried this request, if it says (a
        per-conversation script needs it; this one serves its turns in order).
        """
        self.turns_served += 1
        if self._turns:
            return self._turns.pop(0)
        if self._responder is not None:
            value = self._responder(request)
            if inspect.isawaitable(value):
                value = await value
            if value is not None:
                return as_turn(value)
        return Turn(content=[TextBlock(text=FINISHED_TEXT)], stop_reason="end_turn")
