"""Noticing a session that makes no progress: the same action, again and again, on a
screen that does not change."""

from __future__ import annotations

from google.protobuf import json_format

from deskpilot.v1 import common_pb2


class NoProgress(Exception):
    """The session makes no progress; the message says how (it becomes the status reason)."""


class ProgressWatch:
    """Remembers the latest actions that returned a screenshot."""

    def __init__(self, repeats: int) -> None:
        """`repeats`: how many identical actions on an unchanged screen mean no progress."""
        self.repeats = repeats
        self._recent: list[tuple[str, str]] = []

    def note(self, call: common_pb2.ToolCall, screen: str | None) -> None:
        """Note `call` and the digest of the screen it returned (None: no screenshot, which
        breaks the run); NoProgress when the session makes none."""
        if screen is None:
            self._recent.clear()
            return
        action = json_format.MessageToJson(call.input, sort_keys=True) + call.name
        self._recent.append((action, screen))
        del self._recent[: -self.repeats]
        if len(self._recent) == self.repeats and len(set(self._recent)) == 1:
            raise NoProgress(
                f"no progress: the same action ran {self.repeats} times on an unchanged screen"
            )
