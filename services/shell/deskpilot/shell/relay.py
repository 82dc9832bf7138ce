"""Passing a running command's output to a streaming RPC without unbounded buffering."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from deskpilot.shell.output import incremental_decoder, readable


class ChunkRelay:
    """Output chunks from the shell to one BashStream, decoded per stream.

    If the client reads slower than the command writes, chunks beyond `max_buffered`
    bytes are skipped, and a line in their place says how many bytes were skipped; the
    final result still holds the bounded whole output.
    """

    def __init__(self, max_buffered: int) -> None:
        self.max_buffered = max_buffered
        # (stream, data) or (stream, None): the place of skipped output; None: the end.
        self._queue: asyncio.Queue[tuple[str, bytes | None] | None] = asyncio.Queue()
        self._buffered = 0
        self._skipped: dict[str, int | None] = {"stdout": None, "stderr": None}
        self._decoders = {"stdout": incremental_decoder(), "stderr": incremental_decoder()}

    def put(self, stream: str, data: bytes) -> None:
        """Called with each piece of output as it arrives."""
        if self._buffered + len(data) > self.max_buffered:
            if self._skipped[stream] is None:
                self._skipped[stream] = 0
                self._queue.put_nowait((stream, None))
            self._skipped[stream] = (self._skipped[stream] or 0) + len(data)
            return
        self._buffered += len(data)
        self._queue.put_nowait((stream, data))

    def close(self) -> None:
        """No more output will come."""
        self._queue.put_nowait(None)

    async def __aiter__(self) -> AsyncIterator[tuple[str, str]]:
        while (item := await self._queue.get()) is not None:
            stream, data = item
            if data is None:
                skipped, self._skipped[stream] = self._skipped[stream], None
                yield stream, f"\n[... {skipped} bytes not streamed: the client fell behind ...]\n"
                continue
            self._buffered -= len(data)
            if text := readable(data, final=False, decoder=self._decoders[stream]):
                yield stream, text
        for name, decoder in self._decoders.items():
            if text := readable(b"", final=True, decoder=decoder):
                yield name, text
