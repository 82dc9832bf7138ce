"""Reads what a person types without blocking the event loop."""

from __future__ import annotations

import asyncio
import os
from typing import TextIO

_CHUNK = 4096


class LineReader:
    """Lines from a stream's file descriptor, read only once it has data (loop.add_reader).

    Events keep flowing while the person thinks, and a pending read can be cancelled (a
    question withdrawn) without losing what was typed: bytes read past a line wait here for
    the next `readline`, which is also why this reads the descriptor and not the buffered
    TextIO (whose buffer add_reader cannot see).
    """

    def __init__(self, stream: TextIO) -> None:
        self._fd = stream.fileno()
        self._buffer = b""
        self._eof = False
        # A terminal shows what is typed itself; anything else (a pipe, a file) does not.
        self.echoes = os.isatty(self._fd)

    async def readline(self) -> str | None:
        """The next line without its newline; None at the end of input (Ctrl-D)."""
        while b"\n" not in self._buffer and not self._eof:
            await self._readable()
            chunk = os.read(self._fd, _CHUNK)
            self._eof = not chunk
            self._buffer += chunk
        if not self._buffer:
            return None
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode(errors="replace").rstrip("\r")

    async def _readable(self) -> None:
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        try:
            loop.add_reader(self._fd, lambda: ready.done() or ready.set_result(None))
        except PermissionError:  # a regular file: epoll refuses it, and it never blocks
            return
        try:
            await ready
        finally:
            loop.remove_reader(self._fd)


def is_yes(answer: str | None) -> bool:
    """Only y/yes means yes: an empty line, anything else or the end of input is no."""
    return (answer or "").strip().lower() in ("y", "yes")
