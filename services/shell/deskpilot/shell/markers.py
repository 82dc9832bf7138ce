"""Splitting a shell output stream at the end marker the shell prints after each command."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable

from deskpilot.shell.output import BoundedOutput

# Output that arrives between commands (from background jobs) is kept for the next
# command's result, up to this many bytes (the newest ones).
BETWEEN_COMMANDS_LIMIT = 64 * 1024
# After the token: the exit status and a newline; an unfinished one may still be arriving.
_MARKER_TAIL = re.compile(rb"(-?[0-9]{0,10})(\n?)")


class ShellGone(Exception):
    """The shell process ended before the command's marker arrived."""


class MarkerSplitter:
    """Feeds one stream's bytes to the running command's capture until its marker.

    The shell prints `<token><exit status>\\n` after a command; the token is random per
    command, so the command's own output cannot end it by accident.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._between = bytearray()
        self._token: bytes | None = None
        self._sink: BoundedOutput | None = None
        self._on_data: Callable[[bytes], None] | None = None
        self._done: asyncio.Future[int] | None = None

    def begin(
        self, token: bytes, limit: int, on_data: Callable[[bytes], None] | None
    ) -> tuple[BoundedOutput, asyncio.Future[int]]:
        """Start capturing a command; resolves the future with its exit status."""
        self._token = token
        self._sink = BoundedOutput(limit)
        self._on_data = on_data
        self._done = asyncio.get_running_loop().create_future()
        if self._between:
            self._emit(bytes(self._between))
            self._between.clear()
        self._split()
        return self._sink, self._done

    def feed(self, data: bytes) -> None:
        self._buffer += data
        self._split()

    def eof(self) -> None:
        """The stream closed: hand over what is left and fail a waiting command."""
        if self._token is not None:
            self._emit(bytes(self._buffer))
            self._buffer.clear()
            self._finish(None)

    def abandon(self) -> None:
        """Stop capturing (the command is given up); later output goes to the next one."""
        self._token, self._sink, self._on_data, self._done = None, None, None, None

    def _split(self) -> None:
        while self._buffer:
            if self._token is None:
                self._between += self._buffer
                del self._between[:-BETWEEN_COMMANDS_LIMIT]
                self._buffer.clear()
                return
            at = self._buffer.find(self._token)
            if at < 0:
                # Hold back only a tail that could be the start of a token split across reads.
                cut = len(self._buffer) - _partial_token(self._buffer, self._token)
                self._emit(bytes(self._buffer[:cut]))
                del self._buffer[:cut]
                return
            self._emit(bytes(self._buffer[:at]))
            del self._buffer[:at]
            tail = _MARKER_TAIL.match(self._buffer, len(self._token))
            assert tail is not None  # every part of the pattern is optional
            if not tail.group(2) and tail.end() == len(self._buffer):
                return  # the rest of the marker is still on its way
            if not tail.group(2) or not tail.group(1).lstrip(b"-"):
                # Not a marker: the token inside other text (e.g. `set -x` tracing the
                # driver) is output like any other.
                self._emit(bytes(self._buffer[: len(self._token)]))
                del self._buffer[: len(self._token)]
                continue
            status = int(tail.group(1))  # before the deletion: the match views the buffer
            del self._buffer[: tail.end()]
            self._finish(status)

    def _emit(self, data: bytes) -> None:
        if data and self._sink is not None:
            self._sink.append(data)
            if self._on_data is not None:
                self._on_data(data)

    def _finish(self, status: int | None) -> None:
        done = self._done
        self.abandon()
        if done is not None and not done.done():
            if status is None:
                done.set_exception(ShellGone())
            else:
                done.set_result(status)


def _partial_token(buffer: bytearray, token: bytes) -> int:
    """Length of the longest end of `buffer` that is a beginning of `token`."""
    for length in range(min(len(token) - 1, len(buffer)), 0, -1):
        if buffer.endswith(token[:length]):
            return length
    return 0
