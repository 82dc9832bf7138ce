"""Who a caller is, as its verified token says, and how a servicer asks for it.

An `Identity` is what `tokens.TokenVerifier` makes of a valid token: the subject (a
person's or service's name, recorded on what it does), its tenant, its role and its scope
(all of the tenant's sessions, or one session). The gRPC auth interceptor sets it for the
duration of each RPC; servicers read it with `current_identity()`, never from request
fields, so no caller can claim to be someone else.
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

from deskpilot.common.errors import Unauthenticated


class Role(enum.StrEnum):
    """What a token's holder is."""

    USER = "user"  # a person using their tenant's sessions
    VIEWER = "viewer"  # a person who may only watch (get, list, stream)
    ADMIN = "admin"  # an operator: every session of every tenant
    ORCHESTRATOR = "orchestrator"  # the service: calls the safety gate
    GATEWAY = "gateway"  # the service: shows sessions to the people it authenticated


PEOPLE = frozenset({Role.USER, Role.VIEWER, Role.ADMIN})
SERVICES = frozenset({Role.ORCHESTRATOR, Role.GATEWAY})


@dataclass(frozen=True)
class Identity:
    """A verified caller."""

    subject: str
    tenant: str
    role: Role
    session_id: str = ""  # "" : every session of the tenant; else only this one
    token_id: str = ""
    expires_at: float = 0.0  # Unix time

    @property
    def name(self) -> str:
        """The name recorded on what this caller does (messages, approvals, takeovers)."""
        return self.subject

    def describe(self) -> str:
        """e.g. `viewer alice of tenant acme (session s-1 only)`, for error messages."""
        scope = f" (session {self.session_id} only)" if self.session_id else ""
        return f"{self.role} {self.subject} of tenant {self.tenant}{scope}"


_current: ContextVar[Identity | None] = ContextVar("deskpilot_identity", default=None)


def current_identity() -> Identity:
    """The caller of the RPC being served. Raises Unauthenticated outside an authenticated
    RPC, so a servicer on a server without authentication fails closed."""
    identity = _current.get()
    if identity is None:
        raise Unauthenticated("no authenticated caller: this server checks no tokens")
    return identity


@contextlib.contextmanager
def acting_as(identity: Identity) -> Iterator[Identity]:
    """Make `identity` the current caller within the block (the interceptor's job)."""
    token = _current.set(identity)
    try:
        yield identity
    finally:
        _current.reset(token)
