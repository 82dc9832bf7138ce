"""Where deskpilot's data lives on NATS: stream, buckets, subjects and message ids."""

from __future__ import annotations

import re

EVENTS_STREAM = "DESKPILOT_EVENTS"
EVENTS_SUBJECTS = "deskpilot.sessions.*.events"
SESSIONS_BUCKET = "deskpilot-sessions"
LEASES_BUCKET = "deskpilot-leases"
SCREENSHOTS_BUCKET = "deskpilot-screenshots"

# nats-server's default max_payload; events carry object references, never images, so a
# larger event is a bug worth failing loudly on.
EVENT_MAX_BYTES = 1024 * 1024

_SESSION_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


def check_session_id(session_id: str) -> str:
    """Return `session_id` if it is one safe NATS subject token, else raise ValueError."""
    if not isinstance(session_id, str) or not _SESSION_ID_RE.match(session_id):
        raise ValueError(
            f"invalid session id {session_id!r}: use 1-256 letters, digits, '-' or '_'"
        )
    return session_id


def events_subject(session_id: str) -> str:
    """`deskpilot.sessions.<id>.events`."""
    return f"deskpilot.sessions.{check_session_id(session_id)}.events"


def control_subject(session_id: str) -> str:
    """`deskpilot.sessions.<id>.control`."""
    return f"deskpilot.sessions.{check_session_id(session_id)}.control"


def event_msg_id(session_id: str, sequence: int) -> str:
    """The JetStream message id (`Nats-Msg-Id`) of a session's event."""
    return f"{session_id}:{sequence}"
