"""Signed tokens: who a caller is, for which tenant, in what role and scope, until when.

A token is a JWT (RFC 7519) signed with EdDSA over Ed25519, through PyJWT. We chose an
asymmetric signature over HS256 so that checking a token never needs a key that can make
one: the safety gate, the orchestrator and (next) the gateway hold only the public key,
and the private key stays with whoever mints (`deskpilot up`, `deskpilot token mint`).
A leaked service or a sandbox that could read a service's files gains no power to forge
identities. Only EdDSA is accepted, so `alg: none` and HS256-with-the-public-key tricks
are refused by PyJWT itself.

Claims: `sub` (subject), `tenant`, `role` (`identity.Role`), `session` (the one session
the token may touch; absent: all of the tenant's), `jti` (the id a revocation list names),
`iat`, `exp` (required), `iss` and `aud` (both `deskpilot`).
"""

from __future__ import annotations

import datetime as dt
import re
import time
import uuid

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from deskpilot.common.errors import Unauthenticated
from deskpilot.common.identity import Identity, Role
from deskpilot.common.revocation import RevocationList

ALGORITHM = "EdDSA"
ISSUER = AUDIENCE = "deskpilot"
MAX_TTL_SECONDS = 366 * 86400
# Clocks of machines in one deployment may differ a little.
LEEWAY_SECONDS = 10
_REQUIRED = ["sub", "tenant", "role", "jti", "iat", "exp", "iss", "aud"]
_NAME = re.compile(r"^[A-Za-z0-9._@:+-]{1,128}$")
_SESSION = re.compile(r"^[A-Za-z0-9_-]{1,256}$")  # as the bus's session ids


def check_name(value: str, what: str) -> str:
    """A subject or tenant: 1-128 letters, digits and `._@:+-`; ValueError otherwise."""
    if not isinstance(value, str) or not _NAME.match(value):
        raise ValueError(f"{what} must be 1-128 letters, digits or ._@:+- (got {value!r})")
    return value


class TokenSigner:
    """Mints tokens with the private key."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key

    def mint(
        self,
        subject: str,
        tenant: str,
        role: Role | str,
        *,
        ttl_seconds: float,
        session_id: str = "",
        now: float | None = None,
    ) -> str:
        """A token; ValueError names the argument that is not allowed."""
        check_name(subject, "subject")
        check_name(tenant, "tenant")
        role = _role(role)
        if session_id and not _SESSION.match(session_id):
            raise ValueError(f"session must be a session id (got {session_id!r})")
        if not 0 < ttl_seconds <= MAX_TTL_SECONDS:
            raise ValueError(f"ttl must be more than 0 s and at most {MAX_TTL_SECONDS} s")
        issued = int(time.time() if now is None else now)
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": subject,
            "tenant": tenant,
            "role": str(role),
            "jti": uuid.uuid4().hex,
            "iat": issued,
            "exp": issued + int(ttl_seconds),
        }
        if session_id:
            claims["session"] = session_id
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)


class TokenVerifier:
    """Turns a presented token into an Identity, or raises Unauthenticated saying why."""

    def __init__(self, key: Ed25519PublicKey, revoked: RevocationList | None = None) -> None:
        self._key = key
        self.revoked = revoked or RevocationList(None)

    def verify(self, token: str) -> Identity:
        claims = self._decode(token)
        try:
            identity = Identity(
                subject=check_name(claims["sub"], "its subject"),
                tenant=check_name(claims["tenant"], "its tenant"),
                role=_role(claims["role"]),
                session_id=_scope(claims.get("session", "")),
                token_id=str(claims["jti"]),
                expires_at=float(claims["exp"]),
            )
        except ValueError as exc:
            raise Unauthenticated(f"the token is not valid: {exc}") from None
        self.recheck(identity)
        return identity

    def recheck(self, identity: Identity, now: float | None = None) -> None:
        """Raise Unauthenticated if a token verified earlier has expired or been revoked
        since (what a long stream checks before each message)."""
        if identity.token_id in self.revoked:
            raise Unauthenticated(f"the token {identity.token_id} was revoked")
        if (time.time() if now is None else now) >= identity.expires_at + LEEWAY_SECONDS:
            expired = dt.datetime.fromtimestamp(identity.expires_at, dt.UTC)
            raise Unauthenticated(f"the token expired at {expired.isoformat(timespec='seconds')}")

    def _decode(self, token: str) -> dict:
        try:
            return jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                leeway=LEEWAY_SECONDS,
                options={"require": _REQUIRED},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated(f"the token expired at {_expiry(token)}") from None
        except jwt.InvalidSignatureError:
            raise Unauthenticated(
                "the token's signature does not verify: it was not signed with this "
                "deployment's key"
            ) from None
        except jwt.InvalidAlgorithmError:
            raise Unauthenticated(
                f"the token is signed with {_header_alg(token)!r}; only {ALGORITHM} is accepted"
            ) from None
        except jwt.MissingRequiredClaimError as exc:
            raise Unauthenticated(f"the token lacks its {exc.claim!r} claim") from None
        except (jwt.InvalidAudienceError, jwt.InvalidIssuerError):
            raise Unauthenticated("the token was not issued for deskpilot") from None
        except jwt.ImmatureSignatureError:
            raise Unauthenticated("the token is not valid yet (issued in the future)") from None
        except jwt.DecodeError as exc:
            raise Unauthenticated(f"the token is malformed: {exc}") from None
        except jwt.InvalidTokenError as exc:
            raise Unauthenticated(f"the token is not valid: {exc}") from None


def unverified_claims(token: str) -> dict:
    """A token's claims read without checking them ({} when it is no JWT): for a client
    showing or revoking its own token, never for a decision."""
    try:
        return jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        return {}


def unverified_subject(token: str) -> str:
    """The subject a token names, unchecked (see `unverified_claims`)."""
    subject = unverified_claims(token).get("sub", "")
    return subject if isinstance(subject, str) else ""


def _role(value: object) -> Role:
    try:
        return Role(value)
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise ValueError(f"role must be one of {allowed} (got {value!r})") from None


def _scope(value: object) -> str:
    if value == "":
        return ""
    if not isinstance(value, str) or not _SESSION.match(value):
        raise ValueError(f"its session must be a session id (got {value!r})")
    return value


def _expiry(token: str) -> str:
    try:
        exp = jwt.decode(token, options={"verify_signature": False}).get("exp")
        return dt.datetime.fromtimestamp(float(exp), dt.UTC).isoformat(timespec="seconds")
    except (jwt.InvalidTokenError, TypeError, ValueError, OverflowError):
        return "an unreadable time"


def _header_alg(token: str) -> str:
    try:
        return str(jwt.get_unverified_header(token).get("alg"))
    except jwt.InvalidTokenError:
        return "?"
