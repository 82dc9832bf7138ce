"""Signatures on thinking blocks, so a thinking block sent back unchanged can be told from
an edited or invented one (the real API rejects those too).

The key is fixed and public: this proves nothing about origin, it only makes the
stand-in's check deterministic across processes and restarts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

_KEY = b"deskpilot messages api stand-in"


def sign_thinking(thinking: str) -> str:
    """The signature the stand-in attaches to a thinking block it generated."""
    digest = hmac.new(_KEY, thinking.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def signature_matches(thinking: str, signature: str) -> bool:
    """Whether `signature` is the one the stand-in gave this thinking text."""
    return hmac.compare_digest(sign_thinking(thinking), signature)
