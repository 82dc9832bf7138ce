"""Puts rendered events on a terminal: whole lines, and streamed model output as it comes."""

from __future__ import annotations

from typing import TextIO

from deskpilot.cli.render import Style, ViewState, delta_prefix, render_delta, render_event
from deskpilot.v1 import events_pb2


class LiveView:
    """Writes events to `out`, keeping streamed text and whole lines apart."""

    def __init__(self, out: TextIO, style: Style, *, stand_in: bool = False) -> None:
        self.out = out
        self.style = style
        self.state = ViewState(stand_in=stand_in)
        self._stream: tuple[int, int, int] | None = None  # (step, block, kind) being streamed

    def show(self, event: events_pb2.Event) -> None:
        if event.HasField("model_delta"):
            self._show_delta(event)
        for line in render_event(event, self.state, self.style):
            self.line(line)

    def line(self, text: str) -> None:
        """One whole line, after ending any streamed text."""
        self._end_stream()
        self.out.write(text + "\n")
        self.out.flush()

    def _show_delta(self, event: events_pb2.Event) -> None:
        delta = event.model_delta
        key = (event.step, delta.block_index, delta.kind)
        if key != self._stream:
            self._end_stream()
            self.out.write(delta_prefix(delta, self.style))
            self._stream = key
        self.out.write(render_delta(delta, self.style))
        self.out.flush()

    def _end_stream(self) -> None:
        if self._stream is not None:
            self.out.write("\n")
            self._stream = None
