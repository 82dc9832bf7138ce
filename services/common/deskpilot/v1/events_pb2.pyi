import datetime

from deskpilot.v1 import common_pb2 as _common_pb2
from deskpilot.v1 import safety_pb2 as _safety_pb2
from deskpilot.v1 import session_pb2 as _session_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DeltaKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DELTA_KIND_UNSPECIFIED: _ClassVar[DeltaKind]
    DELTA_KIND_TEXT: _ClassVar[DeltaKind]
    DELTA_KIND_THINKING: _ClassVar[DeltaKind]
DELTA_KIND_UNSPECIFIED: DeltaKind
DELTA_KIND_TEXT: DeltaKind
DELTA_KIND_THINKING: DeltaKind

class Event(_message.Message):
    __slots__ = ("session_id", "sequence", "time", "step", "producer", "session_created", "status_changed", "user_message", "model_request", "model_delta", "model_response", "model_retry", "action_proposed", "safety_verdict", "confirmation_requested", "confirmation_resolved", "action_executed", "content_scanned", "tool_result", "control_taken", "control_released", "session_finished")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    PRODUCER_FIELD_NUMBER: _ClassVar[int]
    SESSION_CREATED_FIELD_NUMBER: _ClassVar[int]
    STATUS_CHANGED_FIELD_NUMBER: _ClassVar[int]
    USER_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    MODEL_REQUEST_FIELD_NUMBER: _ClassVar[int]
    MODEL_DELTA_FIELD_NUMBER: _ClassVar[int]
    MODEL_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    MODEL_RETRY_FIELD_NUMBER: _ClassVar[int]
    ACTION_PROPOSED_FIELD_NUMBER: _ClassVar[int]
    SAFETY_VERDICT_FIELD_NUMBER: _ClassVar[int]
    CONFIRMATION_REQUESTED_FIELD_NUMBER: _ClassVar[int]
    CONFIRMATION_RESOLVED_FIELD_NUMBER: _ClassVar[int]
    ACTION_EXECUTED_FIELD_NUMBER: _ClassVar[int]
    CONTENT_SCANNED_FIELD_NUMBER: _ClassVar[int]
    TOOL_RESULT_FIELD_NUMBER: _ClassVar[int]
    CONTROL_TAKEN_FIELD_NUMBER: _ClassVar[int]
    CONTROL_RELEASED_FIELD_NUMBER: _ClassVar[int]
    SESSION_FINISHED_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    sequence: int
    time: _timestamp_pb2.Timestamp
    step: int
    producer: str
    session_created: SessionCreated
    status_changed: StatusChanged
    user_message: UserMessage
    model_request: ModelRequest
    model_delta: ModelDelta
    model_response: ModelResponse
    model_retry: ModelRetry
    action_proposed: ActionProposed
    safety_verdict: SafetyVerdict
    confirmation_requested: ConfirmationRequested
    confirmation_resolved: ConfirmationResolved
    action_executed: ActionExecuted
    content_scanned: ContentScanned
    tool_result: ToolResult
    control_taken: ControlTaken
    control_released: ControlReleased
    session_finished: SessionFinished
    def __init__(self, session_id: _Optional[str] = ..., sequence: _Optional[int] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., step: _Optional[int] = ..., producer: _Optional[str] = ..., session_created: _Optional[_Union[SessionCreated, _Mapping]] = ..., status_changed: _Optional[_Union[StatusChanged, _Mapping]] = ..., user_message: _Optional[_Union[UserMessage, _Mapping]] = ..., model_request: _Optional[_Union[ModelRequest, _Mapping]] = ..., model_delta: _Optional[_Union[ModelDelta, _Mapping]] = ..., model_response: _Optional[_Union[ModelResponse, _Mapping]] = ..., model_retry: _Optional[_Union[ModelRetry, _Mapping]] = ..., action_proposed: _Optional[_Union[ActionProposed, _Mapping]] = ..., safety_verdict: _Optional[_Union[SafetyVerdict, _Mapping]] = ..., confirmation_requested: _Optional[_Union[ConfirmationRequested, _Mapping]] = ..., confirmation_resolved: _Optional[_Union[ConfirmationResolved, _Mapping]] = ..., action_executed: _Optional[_Union[ActionExecuted, _Mapping]] = ..., content_scanned: _Optional[_Union[ContentScanned, _Mapping]] = ..., tool_result: _Optional[_Union[ToolResult, _Mapping]] = ..., control_taken: _Optional[_Union[ControlTaken, _Mapping]] = ..., control_released: _Optional[_Union[ControlReleased, _Mapping]] = ..., session_finished: _Optional[_Union[SessionFinished, _Mapping]] = ...) -> None: ...

class SessionCreated(_message.Message):
    __slots__ = ("session",)
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session: _session_pb2.Session
    def __init__(self, session: _Optional[_Union[_session_pb2.Session, _Mapping]] = ...) -> None: ...

class StatusChanged(_message.Message):
    __slots__ = ("to", "reason")
    FROM_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    to: _session_pb2.SessionStatus
    reason: str
    def __init__(self, to: _Optional[_Union[_session_pb2.SessionStatus, str]] = ..., reason: _Optional[str] = ..., **kwargs) -> None: ...

class UserMessage(_message.Message):
    __slots__ = ("text", "author")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    text: str
    author: str
    def __init__(self, text: _Optional[str] = ..., author: _Optional[str] = ...) -> None: ...

class ModelRequest(_message.Message):
    __slots__ = ("model", "message_count", "image_count", "betas")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_COUNT_FIELD_NUMBER: _ClassVar[int]
    IMAGE_COUNT_FIELD_NUMBER: _ClassVar[int]
    BETAS_FIELD_NUMBER: _ClassVar[int]
    model: str
    message_count: int
    image_count: int
    betas: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, model: _Optional[str] = ..., message_count: _Optional[int] = ..., image_count: _Optional[int] = ..., betas: _Optional[_Iterable[str]] = ...) -> None: ...

class ModelDelta(_message.Message):
    __slots__ = ("kind", "text", "block_index")
    KIND_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    BLOCK_INDEX_FIELD_NUMBER: _ClassVar[int]
    kind: DeltaKind
    text: str
    block_index: int
    def __init__(self, kind: _Optional[_Union[DeltaKind, str]] = ..., text: _Optional[str] = ..., block_index: _Optional[int] = ...) -> None: ...

class ModelResponse(_message.Message):
    __slots__ = ("message_id", "stop_reason", "text", "thinking", "tool_calls", "usage", "latency_ms", "content_json")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    STOP_REASON_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    THINKING_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALLS_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    CONTENT_JSON_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    stop_reason: str
    text: str
    thinking: str
    tool_calls: _containers.RepeatedCompositeFieldContainer[_common_pb2.ToolCall]
    usage: _session_pb2.Usage
    latency_ms: float
    content_json: str
    def __init__(self, message_id: _Optional[str] = ..., stop_reason: _Optional[str] = ..., text: _Optional[str] = ..., thinking: _Optional[str] = ..., tool_calls: _Optional[_Iterable[_Union[_common_pb2.ToolCall, _Mapping]]] = ..., usage: _Optional[_Union[_session_pb2.Usage, _Mapping]] = ..., latency_ms: _Optional[float] = ..., content_json: _Optional[str] = ...) -> None: ...

class ModelRetry(_message.Message):
    __slots__ = ("attempt", "wait_seconds", "reason")
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    WAIT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    attempt: int
    wait_seconds: float
    reason: str
    def __init__(self, attempt: _Optional[int] = ..., wait_seconds: _Optional[float] = ..., reason: _Optional[str] = ...) -> None: ...

class ActionProposed(_message.Message):
    __slots__ = ("call",)
    CALL_FIELD_NUMBER: _ClassVar[int]
    call: _common_pb2.ToolCall
    def __init__(self, call: _Optional[_Union[_common_pb2.ToolCall, _Mapping]] = ...) -> None: ...

class SafetyVerdict(_message.Message):
    __slots__ = ("tool_use_id", "verdict", "fail_closed")
    TOOL_USE_ID_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    FAIL_CLOSED_FIELD_NUMBER: _ClassVar[int]
    tool_use_id: str
    verdict: _safety_pb2.Verdict
    fail_closed: bool
    def __init__(self, tool_use_id: _Optional[str] = ..., verdict: _Optional[_Union[_safety_pb2.Verdict, _Mapping]] = ..., fail_closed: _Optional[bool] = ...) -> None: ...

class ConfirmationRequested(_message.Message):
    __slots__ = ("confirmation_id", "call", "reasons", "expires_at")
    CONFIRMATION_ID_FIELD_NUMBER: _ClassVar[int]
    CALL_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    confirmation_id: str
    call: _common_pb2.ToolCall
    reasons: _containers.RepeatedCompositeFieldContainer[_safety_pb2.Reason]
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, confirmation_id: _Optional[str] = ..., call: _Optional[_Union[_common_pb2.ToolCall, _Mapping]] = ..., reasons: _Optional[_Iterable[_Union[_safety_pb2.Reason, _Mapping]]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ConfirmationResolved(_message.Message):
    __slots__ = ("confirmation_id", "approved", "resolved_by", "reason")
    CONFIRMATION_ID_FIELD_NUMBER: _ClassVar[int]
    APPROVED_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_BY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    confirmation_id: str
    approved: bool
    resolved_by: str
    reason: str
    def __init__(self, confirmation_id: _Optional[str] = ..., approved: _Optional[bool] = ..., resolved_by: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ActionExecuted(_message.Message):
    __slots__ = ("tool_use_id", "ok", "error", "latency_ms", "screenshot")
    TOOL_USE_ID_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    SCREENSHOT_FIELD_NUMBER: _ClassVar[int]
    tool_use_id: str
    ok: bool
    error: str
    latency_ms: float
    screenshot: _common_pb2.ObjectRef
    def __init__(self, tool_use_id: _Optional[str] = ..., ok: _Optional[bool] = ..., error: _Optional[str] = ..., latency_ms: _Optional[float] = ..., screenshot: _Optional[_Union[_common_pb2.ObjectRef, _Mapping]] = ...) -> None: ...

class ContentScanned(_message.Message):
    __slots__ = ("tool_use_id", "source", "injection", "score", "level", "spans")
    TOOL_USE_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    INJECTION_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    SPANS_FIELD_NUMBER: _ClassVar[int]
    tool_use_id: str
    source: _safety_pb2.ContentSource
    injection: bool
    score: float
    level: _safety_pb2.InjectionLevel
    spans: _containers.RepeatedCompositeFieldContainer[_safety_pb2.Span]
    def __init__(self, tool_use_id: _Optional[str] = ..., source: _Optional[_Union[_safety_pb2.ContentSource, str]] = ..., injection: _Optional[bool] = ..., score: _Optional[float] = ..., level: _Optional[_Union[_safety_pb2.InjectionLevel, str]] = ..., spans: _Optional[_Iterable[_Union[_safety_pb2.Span, _Mapping]]] = ...) -> None: ...

class ToolResult(_message.Message):
    __slots__ = ("tool_use_id", "is_error", "text", "images")
    TOOL_USE_ID_FIELD_NUMBER: _ClassVar[int]
    IS_ERROR_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    tool_use_id: str
    is_error: bool
    text: str
    images: _containers.RepeatedCompositeFieldContainer[_common_pb2.ObjectRef]
    def __init__(self, tool_use_id: _Optional[str] = ..., is_error: _Optional[bool] = ..., text: _Optional[str] = ..., images: _Optional[_Iterable[_Union[_common_pb2.ObjectRef, _Mapping]]] = ...) -> None: ...

class ControlTaken(_message.Message):
    __slots__ = ("by",)
    BY_FIELD_NUMBER: _ClassVar[int]
    by: str
    def __init__(self, by: _Optional[str] = ...) -> None: ...

class ControlReleased(_message.Message):
    __slots__ = ("by", "note")
    BY_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    by: str
    note: str
    def __init__(self, by: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class SessionFinished(_message.Message):
    __slots__ = ("status", "reason", "usage", "steps")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    status: _session_pb2.SessionStatus
    reason: str
    usage: _session_pb2.Usage
    steps: int
    def __init__(self, status: _Optional[_Union[_session_pb2.SessionStatus, str]] = ..., reason: _Optional[str] = ..., usage: _Optional[_Union[_session_pb2.Usage, _Mapping]] = ..., steps: _Optional[int] = ...) -> None: ...
