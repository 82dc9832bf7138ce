"""The size limit of every string, repeated and map field of the Orchestrator API's
requests, in one table, and the check that applies it before anything is stored.

Each field is named by its protobuf full name; a test walks every request message and
fails when a field that can grow has no limit here. Sizes are characters for strings
(map keys and values, and each element of a repeated string, separately) and entries for
repeated and map fields. The values leave a session record and each event well inside one
NATS message; `nats_budget` checks the serialised sum against the server's actual limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from deskpilot.bus import EVENT_MAX_BYTES
from deskpilot.common.errors import FieldViolation, InvalidArgument


@dataclass(frozen=True)
class Limit:
    """`chars`: most characters of a string (of each element or map value);
    `items`: most entries of a repeated or map field; `key_chars`: of each map key."""

    chars: int | None = None
    items: int | None = None
    key_chars: int | None = None


_V1 = "deskpilot.v1."
SESSION_ID = Limit(chars=256)  # what check_session_id allows
NAME = Limit(chars=200)  # who did something: author, by, resolved_by

LIMITS: dict[str, Limit] = {
    f"{_V1}CreateSessionRequest.request_id": Limit(chars=200),
    f"{_V1}SessionConfig.task": Limit(chars=100_000),
    f"{_V1}SessionConfig.model": Limit(chars=200),
    f"{_V1}SessionConfig.system_prompt_suffix": Limit(chars=50_000),
    f"{_V1}SessionConfig.sandbox_template": Limit(chars=253),
    f"{_V1}SessionConfig.labels": Limit(items=64, key_chars=63, chars=256),
    # Sizes only: what a policy means is the safety gate's to judge.
    f"{_V1}SafetyPolicy.allowed_domains": Limit(items=200, chars=253),
    f"{_V1}SafetyPolicy.category_decisions": Limit(items=100, key_chars=64),
    f"{_V1}SafetyPolicy.rules": Limit(items=100),
    f"{_V1}PolicyRule.id": Limit(chars=128),
    f"{_V1}PolicyRule.tools": Limit(items=20, chars=64),
    f"{_V1}PolicyRule.pattern": Limit(chars=1_000),
    f"{_V1}PolicyRule.reason": Limit(chars=1_000),
    f"{_V1}GetSessionRequest.session_id": SESSION_ID,
    f"{_V1}ListSessionsRequest.statuses": Limit(items=16),
    f"{_V1}ListSessionsRequest.page_token": Limit(chars=20),
    f"{_V1}SendMessageRequest.session_id": SESSION_ID,
    f"{_V1}SendMessageRequest.text": Limit(chars=100_000),
    f"{_V1}SendMessageRequest.author": NAME,
    f"{_V1}StreamEventsRequest.session_id": SESSION_ID,
    f"{_V1}ResolveConfirmationRequest.session_id": SESSION_ID,
    f"{_V1}ResolveConfirmationRequest.confirmation_id": Limit(chars=64),
    f"{_V1}ResolveConfirmationRequest.resolved_by": NAME,
    f"{_V1}ResolveConfirmationRequest.reason": Limit(chars=10_000),
    f"{_V1}CancelRequest.session_id": SESSION_ID,
    f"{_V1}CancelRequest.reason": Limit(chars=2_000),  # becomes the session's status reason
    f"{_V1}TakeControlRequest.session_id": SESSION_ID,
    f"{_V1}TakeControlRequest.by": NAME,
    f"{_V1}ReleaseControlRequest.session_id": SESSION_ID,
    f"{_V1}ReleaseControlRequest.by": NAME,
    f"{_V1}ReleaseControlRequest.note": Limit(chars=10_000),
    f"{_V1}DeleteSessionRequest.session_id": SESSION_ID,
    f"{_V1}GetDesktopAccessRequest.session_id": SESSION_ID,
}

# Room in one NATS message for what the orchestrator adds to a request's content: the
# session's own fields in its record (status reason, sandbox endpoints, usage, ...) and an
# event's envelope. Reasons and names are bounded above, so this is plenty.
RECORD_HEADROOM_BYTES = 64 * 1024
EVENT_HEADROOM_BYTES = 4 * 1024


def check_sizes(request: Message, path: str = "") -> None:
    """Raise InvalidArgument naming the first field of `request` over its limit."""
    for field, value in request.ListFields():
        where = f"{path}{field.name}"
        limit = LIMITS.get(field.full_name)
        if _is_map(field):
            _check_map(where, value, field, limit)
        elif field.is_repeated:
            _check_count(where, len(value), limit)
            for index, item in enumerate(value):
                _check_value(f"{where}[{index}]", item, field, limit)
        else:
            _check_value(where, value, field, limit)


def nats_budget(max_payload: int, headroom: int) -> int:
    """Bytes of request content one NATS message can carry: the smaller of the server's
    max_payload and the events stream's message limit, less `headroom`."""
    return min(max_payload, EVENT_MAX_BYTES - 1024) - headroom


def check_fits(
    what: str, size: int, budget: int, max_payload: int, fields: Sequence[str] = ()
) -> None:
    """InvalidArgument when `size` serialised bytes of `what` exceed `budget`; `fields`:
    the request fields that make it up (each is named in the error's details)."""
    if size > budget:
        message = (
            f"{what}: {size} bytes serialised; at most {max(budget, 0)} fit, because the "
            f"session's data travels in NATS messages of at most {max_payload} bytes"
        )
        raise InvalidArgument(
            message, violations=[FieldViolation(name, message) for name in fields]
        )


def _check_map(where: str, value: object, field: FieldDescriptor, limit: Limit | None) -> None:
    _check_count(where, len(value), limit)  # type: ignore[arg-type]
    value_field = field.message_type.fields_by_name["value"]
    for key, item in value.items():  # type: ignore[attr-defined]
        if limit is not None and limit.key_chars is not None and len(key) > limit.key_chars:
            raise InvalidArgument(
                f"{where} has a key of {len(key)} characters; the limit is {limit.key_chars}",
                field=where,
            )
        _check_value(f"{where}[{key!r}]", item, value_field, limit)


def _check_count(where: str, count: int, limit: Limit | None) -> None:
    if limit is not None and limit.items is not None and count > limit.items:
        raise InvalidArgument(
            f"{where} has {count} entries; the limit is {limit.items}", field=where
        )


def _check_value(where: str, value: object, field: FieldDescriptor, limit: Limit | None) -> None:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        check_sizes(value, f"{where}.")  # type: ignore[arg-type]
    elif isinstance(value, str | bytes) and limit and limit.chars and len(value) > limit.chars:
        unit = "characters" if isinstance(value, str) else "bytes"
        raise InvalidArgument(
            f"{where} is {len(value)} {unit}; the limit is {limit.chars}", field=where
        )


def _is_map(field: FieldDescriptor) -> bool:
    message = field.message_type
    return message is not None and message.GetOptions().map_entry


def unlimited_fields(message: Descriptor, seen: set[str] | None = None) -> list[str]:
    """What can grow without a limit in LIMITS, among the fields reachable from `message`
    (strings and bytes need `chars`, repeated and map fields `items`, string map keys
    `key_chars`): the table's completeness, for the tests."""
    seen = set() if seen is None else seen
    if message.full_name in seen:
        return []
    seen.add(message.full_name)
    missing = []
    for field in message.fields:
        limit = LIMITS.get(field.full_name, Limit())
        element = field.message_type.fields_by_name["value"] if _is_map(field) else field
        needs = {
            "items": field.is_repeated,
            "key_chars": _is_map(field) and _is_text(field.message_type.fields_by_name["key"]),
            "chars": _is_text(element),
        }
        missing += [
            f"{field.full_name} ({k})"
            for k, need in needs.items()
            if need and getattr(limit, k) is None
        ]
        if element.message_type is not None:
            missing += unlimited_fields(element.message_type, seen)
    return missing


def _is_text(field: FieldDescriptor) -> bool:
    return field.type in (FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BYTES)
