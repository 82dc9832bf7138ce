"""What can go wrong talking to NATS, as deskpilot errors (see common/errors.py for the
gRPC status each maps to), and which nats-py errors mean NATS is only briefly away."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import nats.errors
import nats.js.errors

from deskpilot.common.errors import ResourceExhausted, Unavailable

# Errors that mean "NATS is briefly away" (restarting, reconnecting, JetStream recovering).
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    nats.errors.TimeoutError,  # no ack: server down, restarting or slow
    nats.errors.NoRespondersError,
    nats.js.errors.NoStreamResponseError,  # no stream listening (yet) after a restart
    nats.js.errors.ServiceUnavailableError,  # JetStream not ready yet
    nats.errors.ConnectionReconnectingError,
    nats.errors.OutboundBufferLimitError,  # reconnect buffer full while disconnected
    nats.errors.StaleConnectionError,
)

# JetStream error codes of a write refused for lack of space: account resources exceeded,
# insufficient resources (the server's max_file_store / max_memory_store), memory and storage
# resources exceeded. 10077 (store failed) also covers a stream's own max_bytes / max_msgs.
_STORE_FULL_CODES = frozenset({10002, 10023, 10028, 10047})
_STORE_FAILED = 10077
# JetStream's answer to a publish whose Nats-Expected-Last-Subject-Sequence is not the
# subject's last sequence.
_WRONG_LAST_SEQUENCE = 10071


class BusUnavailable(Unavailable, RuntimeError):
    """NATS could not be reached (first connect) or did not accept a publish in time."""


class BusRefused(BusUnavailable):
    """The server refused this client's identity (none, or one it does not know): trying
    again will not help; the operator must give the client its credentials."""


class EventStoreFull(ResourceExhausted):
    """JetStream refused a write because its storage is full; it works again once space is
    freed (no restart needed)."""


class EventOrderConflict(RuntimeError):
    """Another writer stored events for the session this writer believed it alone wrote
    (a replica that lost its lease, or a forger): the event was not stored, and the writer
    must stop writing for that session."""


class BusConfigError(RuntimeError):
    """A JetStream resource exists with a configuration deskpilot cannot use."""


class NoResponders(RuntimeError):
    """Nobody serves the subject a request was sent to."""


class ObjectNotFound(LookupError):
    """The object store has no object with that name."""


def is_store_full(err: BaseException) -> bool:
    """Whether `err` is JetStream refusing a write for lack of space."""
    if not isinstance(err, nats.js.errors.APIError):
        return False
    if err.err_code in _STORE_FULL_CODES:
        return True
    description = (err.description or "").lower()
    return err.err_code == _STORE_FAILED and ("maximum" in description or "resource" in description)


@contextlib.contextmanager
def refused_for_space(what: str) -> Iterator[None]:
    """Turn JetStream's "no space" answer to the write of `what` into EventStoreFull."""
    try:
        yield
    except nats.js.errors.APIError as err:
        if not is_store_full(err):
            raise
        reason = err.description or "no space left"
        raise EventStoreFull(
            f"event store full: NATS JetStream refused to store {what} ({reason}); free "
            "space (delete finished sessions, or purge old events) and it works again"
        ) from err


@contextlib.contextmanager
def out_of_order(what: str) -> Iterator[None]:
    """Turn JetStream's "wrong last sequence" answer to the publish of `what` into
    EventOrderConflict."""
    try:
        yield
    except nats.js.errors.APIError as err:
        if err.err_code != _WRONG_LAST_SEQUENCE:
            raise
        raise EventOrderConflict(
            f"{what} was not stored: the session has events this writer did not store "
            f"({err.description or 'wrong last sequence'})"
        ) from err
