"""Recognising payment card numbers and secrets in text someone is about to type."""

from __future__ import annotations

import math
import re
from collections import Counter

_CARD_RE = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
SECRET_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("a private key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
    ("an AWS access key", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("a GitHub token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_\w{40,})")),
    ("a Slack token", re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}")),
    ("an API key", re.compile(r"\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{20,}")),
    ("a Google API key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),
    ("a JSON web token", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.")),
)
# Tokens that look like passwords: mixed character classes, no spaces.
_TOKEN_RE = re.compile(r"\S{10,128}")


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum used by payment card numbers."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def find_card_number(text: str) -> str | None:
    """The first 13-19 digit run (spaces or dashes allowed) passing Luhn, masked."""
    for match in _CARD_RE.finditer(text):
        digits = re.sub(r"\D", "", match.group(0))
        if 13 <= len(digits) <= 19 and luhn_ok(digits) and len(set(digits)) > 1:
            return f"…{digits[-4:]}"
    return None


def shannon_entropy(value: str) -> float:
    """Bits per character."""
    counts = Counter(value)
    total = len(value)
    return -sum(c / total * math.log2(c / total) for c in counts.values())


def find_secret(text: str) -> str | None:
    """A description of the first secret-looking thing in `text`, or None."""
    for description, pattern in SECRET_PATTERNS:
        if pattern.search(text):
            return description
    for token in _TOKEN_RE.findall(text):
        if _looks_like_password(token):
            return "a password or key"
    return None


def _looks_like_password(token: str) -> bool:
    if "://" in token or token.startswith(("/", "~", "./")) or "@" in token.strip("@"):
        return False  # URLs, paths and e-mail addresses are not secrets
    classes = sum(
        (
            any(c.islower() for c in token),
            any(c.isupper() for c in token),
            any(c.isdigit() for c in token),
            any(not c.isalnum() for c in token),
        )
    )
    if classes < 3 or not any(c.isdigit() for c in token):
        return False
    # Long random tokens have high entropy; short ones need all four classes.
    entropy = shannon_entropy(token)
    if len(token) >= 20:
        return entropy >= 3.5
    return classes == 4 and entropy >= 3.0
