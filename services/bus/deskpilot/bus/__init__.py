"""Deskpilot's event bus on NATS JetStream: the only package that talks to NATS.

`Bus` (client.py) is the connection with deskpilot's streams, buckets and subjects
(names.py); errors.py says what can go wrong, retry.py is the one retry layer, kv.py the
compare-and-set and lease operations on KV buckets.

`Subscription` (what `Bus.serve_requests` returns) is nats-py's, re-exported so that
callers need no NATS import of their own.
"""

from nats.aio.subscription import Subscription

from deskpilot.bus.client import Bus, redact_url
from deskpilot.bus.errors import (
    BusConfigError,
    BusRefused,
    BusUnavailable,
    EventOrderConflict,
    EventStoreFull,
    NoResponders,
    ObjectNotFound,
)
from deskpilot.bus.names import (
    EVENT_MAX_BYTES,
    EVENTS_STREAM,
    LEASES_BUCKET,
    SCREENSHOTS_BUCKET,
    SESSIONS_BUCKET,
    check_session_id,
    control_subject,
    event_msg_id,
    events_subject,
)
from deskpilot.bus.retry import until_stored

__all__ = [
    "EVENTS_STREAM",
    "EVENT_MAX_BYTES",
    "LEASES_BUCKET",
    "SCREENSHOTS_BUCKET",
    "SESSIONS_BUCKET",
    "Bus",
    "BusConfigError",
    "BusRefused",
    "BusUnavailable",
    "EventOrderConflict",
    "EventStoreFull",
    "NoResponders",
    "ObjectNotFound",
    "Subscription",
    "check_session_id",
    "control_subject",
    "event_msg_id",
    "events_subject",
    "redact_url",
    "until_stored",
]
