"""The token signing key pair, as PEM files.

Tokens are signed with an Ed25519 private key and verified with its public key (see
`tokens`). Only whoever mints tokens holds the private key (`deskpilot up`, `deskpilot
token mint`); every service that checks tokens holds the public key alone, which cannot
mint any. The private key is written with mode 0600 and never logged.

Beside it, a secret key (random bytes, base64 in a file of mode 0600) for what only one
kind of service may read, such as the orchestrators' key that seals sandboxes' secrets.
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


class KeyFileError(ValueError):
    """A key file is missing, unreadable or not an Ed25519 key; the message names it."""


def generate_key_pair(private_path: Path, public_path: Path) -> None:
    """Write a new key pair: the private key readable by its owner only (0600)."""
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    write_private(private_path, private_pem)
    public_path.parent.mkdir(parents=True, exist_ok=True)
    public_path.write_bytes(public_pem)


def write_private(path: Path, data: bytes) -> None:
    """Write `data` to `path` with mode 0600 from its creation on (no moment when another
    user could read it), replacing what was there."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """The signing key in `path`; KeyFileError says what is wrong with the file."""
    data = _read(path, "signing key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyFileError(f"{path} is not a PEM private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path} holds a {type(key).__name__}, not an Ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """The verification key in `path`; KeyFileError says what is wrong with the file."""
    data = _read(path, "verification key")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise KeyFileError(f"{path} is not a PEM public key ({exc})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(f"{path} holds a {type(key).__name__}, not an Ed25519 public key")
    return key


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise KeyFileError(f"cannot read the {what} {path}: {exc.strerror or exc}") from None


SECRET_KEY_BYTES = 32


def generate_secret_key(path: Path) -> None:
    """Write a new random secret key to `path` (mode 0600)."""
    write_private(path, base64.b64encode(os.urandom(SECRET_KEY_BYTES)) + b"\n")


def load_secret_key(path: Path) -> bytes:
    """The secret key in `path`; KeyFileError says what is wrong with the file."""
    data = _read(path, "secret key").strip()
    try:
        key = base64.b64decode(data, validate=True)
    except binascii.Error:
        raise KeyFileError(f"{path} does not hold a base64 secret key") from None
    if len(key) != SECRET_KEY_BYTES:
        raise KeyFileError(f"{path} holds {len(key)} bytes; a secret key has {SECRET_KEY_BYTES}")
    return key
