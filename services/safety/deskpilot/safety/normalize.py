"""Text normalisation before injection scoring: the same text however it is disguised."""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata

_ZERO_WIDTH = dict.fromkeys(
    map(ord, "\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff\u00ad\u180e"),
    None,
)
_BASE64_BLOB = re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{24,}={0,2}(?![A-Za-z0-9+/=])")
# OCR and homoglyph confusions inside words: digits and pipes standing in for letters.
_CONFUSIONS = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "|": "l", "@": "a", "$": "s"}
)
_MIXED_WORD = re.compile(r"\b(?=\w*[a-z])[a-z0-9|@$]*[0-9|@$][a-z0-9|@$]*\b", re.I)
_SPACED_LETTERS = re.compile(r"\b(?:[A-Za-z][ .]){4,}[A-Za-z]\b")


def normalise(text: str) -> str:
    """NFKC, zero-width characters removed, l33t/OCR confusions fixed inside words,
    s p a c e d letters joined, base64 blobs decoded and appended, whitespace collapsed,
    lower case."""
    value = unicodedata.normalize("NFKC", text).translate(_ZERO_WIDTH)
    decoded = decode_base64_blobs(value)  # before the confusion fixes, which would corrupt it
    value = _BASE64_BLOB.sub(" ", value) if decoded else value
    value = _SPACED_LETTERS.sub(lambda m: re.sub(r"[ .]", "", m.group(0)), value)
    value = _MIXED_WORD.sub(_unconfuse, value)
    if decoded:
        value = value + " " + " ".join(decoded)
    return " ".join(value.split()).lower()


def decode_base64_blobs(text: str, limit: int = 8) -> list[str]:
    """Printable text hidden in base64 blobs of `text`."""
    out = []
    for match in _BASE64_BLOB.finditer(text):
        blob = match.group(0)
        try:
            raw = base64.b64decode(blob + "=" * (-len(blob) % 4), validate=True)
            decoded = raw.decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            continue
        letters = sum(c.isalpha() or c.isspace() for c in decoded)
        if decoded and letters / len(decoded) > 0.8:
            out.append(decoded)
        if len(out) >= limit:
            break
    return out


def _unconfuse(match: re.Match[str]) -> str:
    word = match.group(0)
    letters = sum(c.isalpha() for c in word)
    # Only words that are mostly letters: keep numbers, versions and dates intact.
    if letters < 2 or letters < len(word) / 2:
        return word
    return word.translate(_CONFUSIONS)
