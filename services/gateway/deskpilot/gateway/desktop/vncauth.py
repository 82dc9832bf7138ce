"""VncAuth (RFC 6143, 7.2.2): the response is the 16-byte challenge DES-encrypted with the
password as key, each key byte's bits reversed (as every VNC implementation does)."""

from __future__ import annotations

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, modes

CHALLENGE_BYTES = 16
_KEY_BYTES = 8  # only the first 8 characters of a VNC password count


def _reverse_bits(byte: int) -> int:
    return int(f"{byte:08b}"[::-1], 2)


def vnc_auth_response(password: str, challenge: bytes) -> bytes:
    """The reply to a VncAuth challenge. (DES, as TripleDES with the key three times.)"""
    if len(challenge) != CHALLENGE_BYTES:
        raise ValueError(f"VncAuth challenge must be {CHALLENGE_BYTES} bytes")
    key = bytes(_reverse_bits(b) for b in password.encode()[:_KEY_BYTES].ljust(_KEY_BYTES, b"\0"))
    # Three copies of one key: single DES, in the form cryptography keeps supporting.
    encryptor = Cipher(TripleDES(key * 3), modes.ECB()).encryptor()
    return encryptor.update(challenge) + encryptor.finalize()
