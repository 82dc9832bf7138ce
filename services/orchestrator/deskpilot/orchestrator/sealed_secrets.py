"""A sandbox's secrets (its VNC password, its executors' credential) sealed for the
session record.

Session records live in a NATS KV bucket that operators, backups and any client with read
access to the bucket can see; the secrets in them are encrypted with AES-256-GCM under a
key only the orchestrators hold (`auth.secrets_key_file`, the same for every replica, so
a replica that takes a session over reaches its sandbox). The session id is bound in as
associated data: a sealed blob copied into another session's record does not open.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from deskpilot.common.keys import load_secret_key
from deskpilot.v1 import session_pb2

_NONCE_BYTES = 12


class SealBroken(ValueError):
    """Sealed secrets that do not open with this key (another key, or tampered with)."""


class SecretsSeal:
    """Seals and opens SandboxSecrets with one key."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    @classmethod
    def from_file(cls, path: Path) -> SecretsSeal:
        """The seal whose key is in `path` (KeyFileError if it holds none)."""
        return cls(load_secret_key(path))

    def seal(self, session_id: str, secrets: session_pb2.SandboxSecrets) -> bytes:
        """`secrets` encrypted for `session_id`'s record; empty for empty secrets."""
        if not secrets.ByteSize():
            return b""
        nonce = os.urandom(_NONCE_BYTES)
        plain = secrets.SerializeToString()
        return nonce + self._aead.encrypt(nonce, plain, session_id.encode())

    def open(self, session_id: str, sealed: bytes) -> session_pb2.SandboxSecrets:
        """What `seal` sealed for `session_id`; SealBroken if it does not open."""
        if not sealed:
            return session_pb2.SandboxSecrets()
        nonce, box = sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:]
        try:
            plain = self._aead.decrypt(nonce, box, session_id.encode())
        except InvalidTag:
            raise SealBroken(
                f"the sandbox secrets of session {session_id} do not open with this "
                "replica's key (is auth.secrets_key_file the same on every replica?)"
            ) from None
        return session_pb2.SandboxSecrets.FromString(plain)
