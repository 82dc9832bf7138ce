"""What the model sees of a file: numbered lines, tabs expanded (only here, never on disk)."""

from __future__ import annotations

import operator
from collections.abc import Iterable

SNIPPET_CONTEXT = 4
CLIPPED_NOTE = (
    "\n<response clipped><NOTE>To save on context only part of this file has been shown to "
    "you. Use view_range to see other parts.</NOTE>"
)


def split_lines(text: str) -> list[str]:
    """Lines without their `\\n`; a final newline does not start another line."""
    if not text:
        return []
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()
    return lines


def numbered(lines: list[str], first: int) -> str:
    """`cat -n` style: the line number right-aligned in 6 columns, a tab, the line."""
    if not lines:
        return ""
    if any("\t" in line or "\r" in line for line in lines):
        lines = [line.removesuffix("\r").expandtabs() for line in lines]
    last = first + len(lines)
    if last <= _CACHED_PREFIXES_MAX:
        _grow_prefixes(last)
        prefixes: Iterable[str] = _prefixes[first:last]
    else:
        prefixes = (f"{number:6}\t" for number in range(first, last))
    return "\n".join(map(operator.add, prefixes, lines)) + "\n"


# "     1\t", "     2\t", …: formatting numbers is most of the cost of a large view.
_CACHED_PREFIXES_MAX = 100_000
_prefixes: list[str] = []


def _grow_prefixes(count: int) -> None:
    if len(_prefixes) < count:
        _prefixes.extend(f"{number:6}\t" for number in range(len(_prefixes), count))


def snippet(text: str, first_line: int, last_line: int) -> str:
    """Numbered lines around 0-based lines first..last, with context on both sides."""
    lines = split_lines(text)
    start = max(0, first_line - SNIPPET_CONTEXT)
    end = min(len(lines), last_line + SNIPPET_CONTEXT + 1)
    return numbered(lines[start:end], start + 1)


def clip(text: str, max_characters: int | None) -> str:
    """Cut `text` after `max_characters` characters and say so."""
    if max_characters is None or len(text) <= max_characters:
        return text
    return text[:max_characters] + CLIPPED_NOTE
