"""Revoked token ids, from a file services re-read whenever it changes.

One token id (a token's `jti`) per line; blank lines and `#` comments are ignored.
`deskpilot token revoke ID` appends to it. A revocation takes effect on the next RPC
that presents the token, without a restart: the file is checked (one stat) before each
lookup and read again when its size or modification time changed.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger("deskpilot.revocation")


class RevocationList:
    """`token_id in revoked` — the ids listed in `path` (none while it does not exist)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._ids: frozenset[str] = frozenset()
        self._seen: tuple[int, int] | None = None  # (mtime_ns, size) of the content read
        if path is not None:
            self._refresh(initial=True)

    def __contains__(self, token_id: object) -> bool:
        if self.path is not None:
            self._refresh(initial=False)
        return token_id in self._ids

    def _refresh(self, *, initial: bool) -> None:
        assert self.path is not None
        try:
            info = self.path.stat()
            stamp = (info.st_mtime_ns, info.st_size)
            if stamp == self._seen:
                return
            text = self.path.read_text()
        except FileNotFoundError:
            self._ids, self._seen = frozenset(), None
            return
        except OSError as exc:
            if initial:  # a list that cannot be read at the start is a broken deployment
                raise ValueError(f"cannot read the revocation list {self.path}: {exc}") from None
            # Later: keep what was read before rather than forget every revocation.
            log.warning("cannot re-read the revocation list %s: %s", self.path, exc)
            return
        self._ids = frozenset(parse_token_ids(text))
        self._seen = stamp


def parse_token_ids(text: str) -> list[str]:
    """The token ids in a revocation list's text."""
    ids = []
    for line in text.splitlines():
        token_id = line.split("#", 1)[0].strip()
        if token_id:
            ids.append(token_id)
    return ids


def revoke(path: Path, token_id: str, note: str = "") -> None:
    """Append `token_id` to the revocation list at `path` (created 0644 if missing)."""
    if not token_id or any(c.isspace() or c == "#" for c in token_id):
        raise ValueError(f"{token_id!r} is not a token id")
    path.parent.mkdir(parents=True, exist_ok=True)
    comment = f"  # {note}" if note else ""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    with os.fdopen(descriptor, "a") as out:
        out.write(f"{token_id}{comment}\n")
