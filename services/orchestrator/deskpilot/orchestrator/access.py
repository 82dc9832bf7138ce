"""Who may do what with sessions.

Roles decide which RPCs a caller may make at all (`ACCESS`, checked by the common auth
interceptor before the servicer runs). Sessions belong to the tenant of the identity that
created them (`Session.owner`): a caller sees and steers only its own tenant's sessions,
and a token scoped to one session only that one. Admins (operators) and the gateway see
every tenant's.

Another tenant's session answers NOT_FOUND, exactly as a session that does not exist, so
no caller learns which session ids other tenants have (ids derived from a request_id could
otherwise be probed). A token's scope or role the caller knows it has answers
PERMISSION_DENIED.
"""

from __future__ import annotations

from deskpilot.common.errors import NotFound, PermissionDenied
from deskpilot.common.identity import Identity, Role
from deskpilot.v1 import session_pb2

_READERS = frozenset({Role.USER, Role.VIEWER, Role.ADMIN, Role.GATEWAY})
_STEERERS = frozenset({Role.USER, Role.ADMIN})
# Every tenant's sessions, not only their own.
_ALL_TENANTS = frozenset({Role.ADMIN, Role.GATEWAY})

ACCESS = {
    "CreateSession": _STEERERS,
    "GetSession": _READERS,
    "ListSessions": _READERS,
    "StreamEvents": _READERS,
    "SendMessage": _STEERERS,
    "ResolveConfirmation": _STEERERS,
    "Cancel": _STEERERS,
    "TakeControl": _STEERERS,
    "ReleaseControl": _STEERERS,
    "DeleteSession": _STEERERS,
    "GetDesktopAccess": frozenset({Role.GATEWAY}),
}


def owner_of(identity: Identity) -> session_pb2.SessionOwner:
    """What a new session records as its owner."""
    return session_pb2.SessionOwner(tenant=identity.tenant, subject=identity.subject)


def check_may_create(identity: Identity) -> None:
    """A token for one session cannot start others."""
    if identity.session_id:
        raise PermissionDenied(
            f"the token of {identity.describe()} is limited to that session; it cannot "
            "create sessions"
        )


def check_scope(identity: Identity, session_id: str) -> None:
    """PERMISSION_DENIED when a session-scoped token names another session."""
    if identity.session_id and identity.session_id != session_id:
        raise PermissionDenied(
            f"the token of {identity.describe()} does not reach session {session_id}"
        )


def sees(identity: Identity, session_id: str, owner: session_pb2.SessionOwner) -> bool:
    """Whether the caller may see a session owned by `owner`."""
    if identity.session_id and identity.session_id != session_id:
        return False
    if identity.role in _ALL_TENANTS:
        return True
    return bool(owner.tenant) and owner.tenant == identity.tenant


def check_sees(identity: Identity, session_id: str, owner: session_pb2.SessionOwner) -> None:
    """NOT_FOUND (as for a session that does not exist) unless the caller sees it."""
    check_scope(identity, session_id)
    if not sees(identity, session_id, owner):
        raise NotFound(f"session {session_id} not found")
