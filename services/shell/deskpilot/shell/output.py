"""Bounded capture of a command's output and its conversion to readable text."""

from __future__ import annotations

import codecs
import re

from deskpilot.v1 import shell_pb2

# Control characters other than tab, newline and carriage return are shown escaped, so
# binary output stays readable and never breaks the model's text.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _escape_control(match: re.Match[str]) -> str:
    return f"\\x{ord(match.group()):02x}"


def readable(
    data: bytes, final: bool = True, decoder: codecs.IncrementalDecoder | None = None
) -> str:
    """Decode UTF-8 with undecodable bytes and control characters escaped as `\\xNN`."""
    if decoder is None:
        text = data.decode("utf-8", errors="backslashreplace")
    else:
        text = decoder.decode(data, final)
    return _CONTROL.sub(_escape_control, text)


def incremental_decoder() -> codecs.IncrementalDecoder:
    """A decoder for streamed chunks that never splits a multi-byte character."""
    return codecs.getincrementaldecoder("utf-8")(errors="backslashreplace")


class BoundedOutput:
    """Keeps the first and the last `limit / 2` bytes of a stream and counts the rest."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._head = bytearray()
        self._tail = bytearray()
        self.total = 0

    def append(self, data: bytes) -> None:
        self.total += len(data)
        room = self.limit - self.limit // 2 - len(self._head)
        if room > 0:
            self._head += data[:room]
            data = data[room:]
        if data:
            self._tail += data
            keep = self.limit // 2
            if len(self._tail) > keep:
                del self._tail[: len(self._tail) - keep]

    def _kept(self) -> tuple[bytes, bytes]:
        """Head and tail; when cut, trimmed so no character is split at the cut."""
        if self.total == len(self._head) + len(self._tail):
            return bytes(self._head), bytes(self._tail)
        return _cut_to_char_end(bytes(self._head)), _cut_to_char_start(bytes(self._tail))

    @property
    def omitted(self) -> int:
        head, tail = self._kept()
        return self.total - len(head) - len(tail)

    def text(self) -> str:
        """The kept output; a marker line between head and tail says how much was cut."""
        head, tail = self._kept()
        omitted = self.total - len(head) - len(tail)
        if not omitted:
            return readable(head + tail)
        return f"{readable(head)}\n[... {omitted} bytes of output omitted ...]\n{readable(tail)}"

    def truncation(self) -> shell_pb2.Truncation:
        omitted = self.omitted
        return shell_pb2.Truncation(
            truncated=omitted > 0, total_bytes=self.total, omitted_bytes=omitted
        )


def _cut_to_char_end(data: bytes) -> bytes:
    """Drop a multi-byte character cut in half at the end (at most 3 bytes)."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte < 0x80:
            return data
        if byte >= 0xC0:  # lead byte: is its character complete?
            need = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return data if back >= need else data[:-back]
    return data


def _cut_to_char_start(data: bytes) -> bytes:
    """Drop continuation bytes at the start left by cutting a character in half."""
    skip = 0
    while skip < min(3, len(data)) and 0x80 <= data[skip] < 0xC0:
        skip += 1
    return data[skip:]
