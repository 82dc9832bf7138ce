"""Tokens without a server: what verifies, what does not and what each refusal says."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from deskpilot.cli.token_main import parse_ttl
from deskpilot.common.errors import Unauthenticated
from deskpilot.common.identity import Identity, Role
from deskpilot.common.keys import KeyFileError, load_private_key, load_public_key
from deskpilot.common.revocation import RevocationList, revoke
from deskpilot.common.tokens import TokenVerifier
from tests.fixtures.auth import TestAuth


@pytest.fixture
def keys(tmp_path: Path) -> TestAuth:
    return TestAuth.create(tmp_path)


def _verifier(keys: TestAuth) -> TokenVerifier:
    return TokenVerifier(load_public_key(keys.public_key_file), RevocationList(keys.revoked_file))


def _refusal(keys: TestAuth, token: str) -> str:
    with pytest.raises(Unauthenticated) as info:
        _verifier(keys).verify(token)
    return info.value.message


def _forged(keys: TestAuth, **claims: object) -> str:
    """A token with these claims, properly signed with the deployment's key."""
    now = int(time.time())
    base = {"iss": "deskpilot", "aud": "deskpilot", "sub": "ana", "tenant": "t", "role": "user",
            "jti": "j-1", "iat": now, "exp": now + 60}  # fmt: skip
    base.update(claims)
    base = {k: v for k, v in base.items() if v is not None}
    return jwt.encode(base, load_private_key(keys.private_key_file), algorithm="EdDSA")


def test_a_minted_token_verifies_as_its_identity(keys: TestAuth) -> None:
    token = keys.mint(Role.VIEWER, tenant="acme", subject="vic", session_id="s-1")
    identity = _verifier(keys).verify(token)
    assert identity == Identity(
        subject="vic",
        tenant="acme",
        role=Role.VIEWER,
        session_id="s-1",
        token_id=identity.token_id,
        expires_at=identity.expires_at,
    )
    assert len(identity.token_id) == 32 and identity.expires_at > time.time()
    assert identity.describe() == "viewer vic of tenant acme (session s-1 only)"


def test_an_expired_token_says_when_it_expired(keys: TestAuth) -> None:
    token = keys.mint(ttl_seconds=60, now=1_700_000_000)
    assert _refusal(keys, token) == "the token expired at 2023-11-14T22:14:20+00:00"


def test_another_deployments_token_does_not_verify(keys: TestAuth, tmp_path: Path) -> None:
    other = TestAuth.create(
        tmp_path / "other" if (tmp_path / "other").mkdir() is None else tmp_path
    )
    assert "signature does not verify" in _refusal(keys, other.mint())


def test_unsigned_and_symmetric_tokens_are_refused(keys: TestAuth) -> None:
    now = int(time.time())
    claims = {"iss": "deskpilot", "aud": "deskpilot", "sub": "mallory", "tenant": "t",
              "role": "admin", "jti": "x", "iat": now, "exp": now + 60}  # fmt: skip
    unsigned = _compact({"alg": "none"}, claims, b"")
    assert _refusal(keys, unsigned) == "the token is signed with 'none'; only EdDSA is accepted"
    # HS256 keyed with the public key, which every service holds: the classic confusion.
    public_pem = keys.public_key_file.read_bytes()
    symmetric = _compact({"alg": "HS256", "typ": "JWT"}, claims, public_pem)
    assert _refusal(keys, symmetric) == "the token is signed with 'HS256'; only EdDSA is accepted"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _compact(header: dict, claims: dict, hmac_key: bytes) -> str:
    """A JWT built by hand: HMAC-SHA256 with `hmac_key`, or unsigned when it is empty."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    if not hmac_key:
        return signing_input + "."
    mac = hmac.new(hmac_key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        ({"exp": None}, "the token lacks its 'exp' claim"),
        ({"tenant": None}, "the token lacks its 'tenant' claim"),
        ({"jti": None}, "the token lacks its 'jti' claim"),
        ({"aud": "someone-else"}, "the token was not issued for deskpilot"),
        ({"iss": "someone-else"}, "the token was not issued for deskpilot"),
        ({"role": "root"}, "the token is not valid: role must be one of user, viewer, admin, "
                           "orchestrator, gateway (got 'root')"),
        ({"sub": "a b"}, "the token is not valid: its subject must be 1-128 letters, digits or "
                         "._@:+- (got 'a b')"),
        ({"session": "../x"}, "the token is not valid: its session must be a session id "
                              "(got '../x')"),
        ({"iat": int(time.time()) + 3600}, "the token is not valid yet (issued in the future)"),
    ],
)  # fmt: skip
def test_a_signed_token_with_bad_claims_is_refused_naming_the_claim(
    keys: TestAuth, claims: dict, expected: str
) -> None:
    assert _refusal(keys, _forged(keys, **claims)) == expected


def test_a_revoked_token_is_refused_once_the_list_names_it(keys: TestAuth) -> None:
    verifier = _verifier(keys)
    token = keys.mint()
    token_id = verifier.verify(token).token_id
    revoke(keys.revoked_file, token_id, "lost laptop")
    with pytest.raises(Unauthenticated, match=f"the token {token_id} was revoked"):
        verifier.verify(token)
    assert keys.revoked_file.read_text().endswith(f"{token_id}  # lost laptop\n")


def test_minting_refuses_what_no_token_may_carry(keys: TestAuth) -> None:
    with pytest.raises(ValueError, match="role must be one of"):
        keys.mint("superuser")
    with pytest.raises(ValueError, match="tenant must be"):
        keys.mint(tenant="")
    with pytest.raises(ValueError, match="ttl must be"):
        keys.mint(ttl_seconds=0)
    with pytest.raises(ValueError, match="session must be a session id"):
        keys.mint(session_id="a/b")


def test_a_key_file_that_is_not_a_key_is_named(tmp_path: Path, keys: TestAuth) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("nonsense")
    with pytest.raises(KeyFileError, match=f"{bad} is not a PEM public key"):
        load_public_key(bad)
    missing = tmp_path / "missing.key"
    with pytest.raises(KeyFileError) as info:
        load_private_key(missing)
    assert str(info.value) == f"cannot read the signing key {missing}: No such file or directory"
    with pytest.raises(KeyFileError, match="is not a PEM public key"):
        load_public_key(keys.private_key_file)
    other_kind = tmp_path / "ec.pub"
    other_kind.write_bytes(
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(KeyFileError, match="holds a ECPublicKey, not an Ed25519"):
        load_public_key(other_kind)
    assert keys.private_key_file.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("30m", 1800), ("1h", 3600),
                                                ("7d", 604800)])  # fmt: skip
def test_token_lifetimes_read_as_written(text: str, seconds: int) -> None:
    assert parse_ttl(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "-1h", "1w", "1.5h", "400d"])
def test_a_lifetime_that_is_not_one_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="--ttl must be"):
        parse_ttl(text)
