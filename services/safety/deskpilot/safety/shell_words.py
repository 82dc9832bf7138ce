"""Shell words as bash would read them: quotes removed, ANSI-C escapes decoded, braces
expanded; and the output of the few commands whose output is known from their text.

bashlex's own `word` drops characters of ANSI-C quoting (`$'\\x72\\x6d'` becomes
`$x72x6d`) and leaves some quotes in (`'r''m'` stays `r''m`), so words are read again
here from the source text.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import re
from dataclasses import dataclass

# A `$` that came from quotes or an escape: never expanded, restored at the end.
LITERAL_DOLLAR = "\x00"
MAX_BRACE_WORDS = 16

_SIMPLE_ESCAPES = {
    "a": "\a", "b": "\b", "e": "\x1b", "E": "\x1b", "f": "\f", "n": "\n", "r": "\r",
    "t": "\t", "v": "\v", "\\": "\\", "'": "'", '"': '"', "?": "?",
}  # fmt: skip
_ESCAPE_RE = re.compile(
    r"\\(?:([abeEfnrtv\\'\"?])|([0-7]{1,3})|x([0-9a-fA-F]{1,2})|u([0-9a-fA-F]{1,4})"
    r"|U([0-9a-fA-F]{1,8})|c(.))",
    re.S,
)


@dataclass(frozen=True)
class Dequoted:
    """A word's text after quote removal; `quoted` when any quoting or escape was used,
    `ansi_c` when `$'…'` was."""

    text: str
    quoted: bool
    ansi_c: bool


def literal(text: str) -> str:
    """Text whose `$` must not be expanded."""
    return text.replace("$", LITERAL_DOLLAR)


def restore(text: str) -> str:
    """Literal dollars back to `$`."""
    return text.replace(LITERAL_DOLLAR, "$")


def decode_escapes(body: str, octal_needs_zero: bool = False) -> str:
    """Backslash escapes as `$'…'` (and `echo -e`, `printf`) decode them. `echo -e` writes
    octal as `\\0nnn`, hence `octal_needs_zero`."""

    def sub(match: re.Match[str]) -> str:
        simple, octal, hex_, u4, u8, control = match.groups()
        if simple is not None:
            return _SIMPLE_ESCAPES[simple]
        if octal is not None:
            if octal_needs_zero and not octal.startswith("0"):
                return match.group(0)
            return chr(int(octal, 8) & 0xFF)
        if hex_ is not None:
            return chr(int(hex_, 16))
        code = u4 or u8
        if code is not None:
            value = int(code, 16)
            return chr(value) if value <= 0x10FFFF else ""
        return chr(ord(control) & 0x1F)

    return _ESCAPE_RE.sub(sub, body)


def _ansi_c_end(raw: str, start: int) -> int:
    """Index of the closing quote of `$'…'` whose body starts at `start` (len(raw) when
    unterminated)."""
    index = start
    while index < len(raw):
        if raw[index] == "\\":
            index += 2
            continue
        if raw[index] == "'":
            return index
        index += 1
    return len(raw)


def dequote(raw: str, expansions: dict[int, tuple[int, str]]) -> Dequoted:
    """Remove quoting from `raw` (a word's source text). `expansions` maps the start of
    each expansion bashlex found to (its end, the text standing in for it); a `$` that no
    expansion starts at is literal."""
    out: list[str] = []
    index, size = 0, len(raw)
    in_double = quoted = ansi_c = False
    while index < size:
        char = raw[index]
        ansi_start = not in_double and raw.startswith("$'", index)
        if index in expansions and not ansi_start:
            end, text = expansions[index]
            out.append(text)
            index = max(end, index + 1)
            continue
        if ansi_start:
            end = _ansi_c_end(raw, index + 2)
            out.append(literal(decode_escapes(raw[index + 2 : end])))
            quoted = ansi_c = True
            index = end + 1
        elif not in_double and raw.startswith('$"', index):
            in_double = quoted = True
            index += 2
        elif char == "'" and not in_double:
            end = raw.find("'", index + 1)
            end = size if end < 0 else end
            out.append(literal(raw[index + 1 : end]))
            quoted = True
            index = end + 1
        elif char == '"':
            in_double = not in_double
            quoted = True
            index += 1
        elif char == "\\" and index + 1 < size:
            following = raw[index + 1]
            quoted = True
            if following != "\n":
                if in_double and following not in '$`"\\':
                    out.append("\\")
                out.append(literal(following))
            index += 2
        else:
            out.append(literal(char) if char == "$" else char)
            index += 1
    return Dequoted("".join(out), quoted, ansi_c)


_BRACE_RE = re.compile(r"\{([^{}]*,[^{}]*)\}")


def expand_braces(word: str) -> list[str]:
    """`{rm,-rf,/}` -> ['rm', '-rf', '/']; `a{b,c}d` -> ['abd', 'acd'] (comma lists, one
    level, at most MAX_BRACE_WORDS words). A word without a comma list is returned as is."""
    parts = _BRACE_RE.split(word)
    if len(parts) == 1:
        return [word]
    choices = [[p] if i % 2 == 0 else p.split(",") for i, p in enumerate(parts)]
    words = ["".join(c) for c in itertools.islice(itertools.product(*choices), MAX_BRACE_WORDS)]
    return [w for w in words if w] or [word]


def echo_output(args: list[str]) -> str:
    """What `echo ARGS` writes (without the final newline)."""
    escapes = False
    while args and re.fullmatch(r"-[neE]+", args[0]):
        escapes = "e" in args[0] or escapes
        args = args[1:]
    text = " ".join(args)
    return decode_escapes(text, octal_needs_zero=True) if escapes else text


def printf_output(args: list[str]) -> str | None:
    """What `printf FORMAT ARGS` writes, for formats of %s, %b, %% and escapes only;
    None for any other format (its output is not known from the text)."""
    if not args:
        return None
    fmt, values = args[0], list(args[1:])
    pieces = re.split(r"(%[%sb])", fmt)
    if re.search(r"%[^%sb]", re.sub(r"%[%sb]", "", fmt)):
        return None
    out: list[str] = []
    for piece in pieces:
        if piece == "%%":
            out.append("%")
        elif piece in ("%s", "%b"):
            value = values.pop(0) if values else ""
            out.append(decode_escapes(value, octal_needs_zero=True) if piece == "%b" else value)
        else:
            out.append(decode_escapes(piece))
    return "".join(out)


def base64_decoded(payload: str) -> str | None:
    """The text a base64 payload decodes to, or None when it is not base64 text."""
    payload = payload.strip().strip("'\"")
    if not re.fullmatch(r"[A-Za-z0-9+/=_-]{4,}", payload.replace("\n", "")):
        return None
    try:
        raw = base64.b64decode(payload + "=" * (-len(payload) % 4), validate=False)
        text = raw.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return text if text.isprintable() or "\n" in text else None
