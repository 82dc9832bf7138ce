"""Puts rendered events on a terminal: whole lines, streamed model output as it comes, and
the one open question (`Approve? [y/N] `, `you> `), which always stays the last line."""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

from deskpilot.cli.prompt import LineReader
from deskpilot.cli.render import Style, ViewState, delta_prefix, render_delta, render_event
from deskpilot.v1 import events_pb2

# Takes the cursor back over the question: a terminal erases its line, anything else (a
# log, a pipe) cannot, so the question is left there and output goes on below it.
_ERASE_LINE = "\r\x1b[K"


class LiveView:
    """Writes events to `out`, keeping streamed text, whole lines and a question apart.

    While a question is open, whatever is printed goes above it and the question is shown
    again below, so an answer is never typed into the middle of a status line.
    """

    def __init__(self, out: TextIO, style: Style, *, stand_in: bool = False) -> None:
        self.out = out
        self.style = style
        self.state = ViewState(stand_in=stand_in)
        self._stream: tuple[int, int, int] | None = None  # (step, block, kind) being streamed
        self._streaming = False  # streamed text ends the last line (no newline yet)
        self._question: str | None = None
        self._clear = _ERASE_LINE if _is_terminal(out) else "\n"

    def show(self, event: events_pb2.Event) -> None:
        if event.HasField("model_delta"):
            self._show_delta(event)
        for line in render_event(event, self.state, self.style):
            self.line(line)

    def line(self, text: str) -> None:
        """One whole line, after ending any streamed text (and above an open question)."""
        self._above_question(lambda: self._write_line(text))

    async def ask(self, question: str, reader: LineReader) -> str | None:
        """Show `question` as the last line and wait for the answer (None: end of input).

        Cancelling the wait withdraws the question (for example, when someone answered it
        elsewhere); what was typed so far stays with `reader`.
        """
        self._end_stream()
        self._question = question
        self._write(question)
        answered = False
        try:
            answer = await reader.readline()
            answered = True
        finally:
            self._question = None
            if not answered:
                self._write(self._clear)
        if answer is None or not reader.echoes:  # nothing ended the question's line
            self._write((answer or "") + "\n")
        return answer

    def _above_question(self, write: Callable[[], None]) -> None:
        if self._question is not None:
            self._write(self._clear)
        write()
        if self._question is not None:
            self._end_stream()
            self._write(self._question)

    def _write_line(self, text: str) -> None:
        self._end_stream()
        self._write(text + "\n")

    def _show_delta(self, event: events_pb2.Event) -> None:
        self._above_question(lambda: self._write_delta(event))

    def _write_delta(self, event: events_pb2.Event) -> None:
        delta = event.model_delta
        key = (event.step, delta.block_index, delta.kind)
        if key != self._stream:
            self._end_stream()
            self._write(delta_prefix(delta, self.style))
            self._stream = key
        self._write(render_delta(delta, self.style))
        self._streaming = True

    def _end_stream(self) -> None:
        if self._streaming:
            self._write("\n")
            self._streaming = False
            if self._question is None:
                self._stream = None
        # With a question open the block stays known: its next piece, printed above the
        # question again, goes on without a second prefix.

    def _write(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()


def _is_terminal(out: TextIO) -> bool:
    isatty = getattr(out, "isatty", None)
    return bool(isatty and isatty())
