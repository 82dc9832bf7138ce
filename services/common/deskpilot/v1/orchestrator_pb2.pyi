from deskpilot.v1 import events_pb2 as _events_pb2
from deskpilot.v1 import session_pb2 as _session_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CreateSessionRequest(_message.Message):
    __slots__ = ("config", "request_id")
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    config: _session_pb2.SessionConfig
    request_id: str
    def __init__(self, config: _Optional[_Union[_session_pb2.SessionConfig, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class CreateSessionResponse(_message.Message):
    __slots__ = ("session",)
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session: _session_pb2.Session
    def __init__(self, session: _Optional[_Union[_session_pb2.Session, _Mapping]] = ...) -> None: ...

class GetSessionRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class GetSessionResponse(_message.Message):
    __slots__ = ("session",)
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session: _session_pb2.Session
    def __init__(self, session: _Optional[_Union[_session_pb2.Session, _Mapping]] = ...) -> None: ...

class ListSessionsRequest(_message.Message):
    __slots__ = ("statuses", "page_size", "page_token")
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    statuses: _containers.RepeatedScalarFieldContainer[_session_pb2.SessionStatus]
    page_size: int
    page_token: str
    def __init__(self, statuses: _Optional[_Iterable[_Union[_session_pb2.SessionStatus, str]]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListSessionsResponse(_message.Message):
    __slots__ = ("sessions", "next_page_token")
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    sessions: _containers.RepeatedCompositeFieldContainer[_session_pb2.Session]
    next_page_token: str
    def __init__(self, sessions: _Optional[_Iterable[_Union[_session_pb2.Session, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class SendMessageRequest(_message.Message):
    __slots__ = ("session_id", "text", "author")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    text: str
    author: str
    def __init__(self, session_id: _Optional[str] = ..., text: _Optional[str] = ..., author: _Optional[str] = ...) -> None: ...

class SendMessageResponse(_message.Message):
    __slots__ = ("session",)
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session: _session_pb2.Session
    def __init__(self, session: _Optional[_Union[_session_pb2.Session, _Mapping]] = ...) -> None: ...

class StreamEventsRequest(_message.Message):
    __slots__ = ("session_id", "from_sequence", "follow")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    from_sequence: int
    follow: bool
    def __init__(self, session_id: _Optional[str] = ..., from_sequence: _Optional[int] = ..., follow: _Optional[bool] = ...) -> None: ...

class StreamEventsResponse(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: _events_pb2.Event
    def __init__(self, event: _Optional[_Union[_events_pb2.Event, _Mapping]] = ...) -> None: ...

class ResolveConfirmationRequest(_message.Message):
    __slots__ = ("session_id", "confirmation_id", "approve", "resolved_by", "reason")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    CONFIRMATION_ID_FIELD_NUMBER: _ClassVar[int]
    APPROVE_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_BY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    confirmation_id: str
    approve: bool
    resolved_by: str
    reason: str
    def __init__(self, session_id: _Optional[str] = ..., confirmation_id: _Optional[str] = ..., approve: _Optional[bool] = ..., resolved_by: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ResolveConfirmationResponse(_message.Message):
    __slots__ = ("session",)
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session: _session_pb2.Session
    def __init__(self, session: _Optional[_Union[_session_pb2.Session, _Mapping]] = ...) -> None: ...

class CancelRequest(_message.Message):
    __slots__ = ("session_id", "reason")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    reason: str
    def __init__(self, session_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class CancelResponse(_message.Message):
    __slots__ = ("session",)
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session: _session_pb2.Session
    def __init__(self, session: _Optional[_Union[_session_pb2.Session, _Mapping]] = ...) -> None: ...

class TakeControlRequest(_message.Message):
    __slots__ = ("session_id", "by")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    BY_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    by: str
    def __init__(self, session_id: _Optional[str] = ..., by: _Optional[str] = ...) -> None: ...

class TakeControlResponse(_message.Message):
    __slots__ = ("session",)
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session: _session_pb2.Session
    def __init__(self, session: _Optional[_Union[_session_pb2.Session, _Mapping]] = ...) -> None: ...

class ReleaseControlRequest(_message.Message):
    __slots__ = ("session_id", "by", "note")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    BY_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    by: str
    note: str
    def __init__(self, session_id: _Optional[str] = ..., by: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class ReleaseControlResponse(_message.Message):
    __slots__ = ("session",)
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session: _session_pb2.Session
    def __init__(self, session: _Optional[_Union[_session_pb2.Session, _Mapping]] = ...) -> None: ...

class DeleteSessionRequest(_message.Message):
    __slots__ = ("session_id", "keep_history")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    KEEP_HISTORY_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    keep_history: bool
    def __init__(self, session_id: _Optional[str] = ..., keep_history: _Optional[bool] = ...) -> None: ...

class DeleteSessionResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetDesktopAccessRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class GetDesktopAccessResponse(_message.Message):
    __slots__ = ("vnc_address", "vnc_password", "sandbox_id")
    VNC_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    VNC_PASSWORD_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_ID_FIELD_NUMBER: _ClassVar[int]
    vnc_address: str
    vnc_password: str
    sandbox_id: str
    def __init__(self, vnc_address: _Optional[str] = ..., vnc_password: _Optional[str] = ..., sandbox_id: _Optional[str] = ...) -> None: ...

class ControlCommand(_message.Message):
    __slots__ = ("send_message", "resolve_confirmation", "cancel", "take_control", "release_control")
    SEND_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    RESOLVE_CONFIRMATION_FIELD_NUMBER: _ClassVar[int]
    CANCEL_FIELD_NUMBER: _ClassVar[int]
    TAKE_CONTROL_FIELD_NUMBER: _ClassVar[int]
    RELEASE_CONTROL_FIELD_NUMBER: _ClassVar[int]
    send_message: SendMessageRequest
    resolve_confirmation: ResolveConfirmationRequest
    cancel: CancelRequest
    take_control: TakeControlRequest
    release_control: ReleaseControlRequest
    def __init__(self, send_message: _Optional[_Union[SendMessageRequest, _Mapping]] = ..., resolve_confirmation: _Optional[_Union[ResolveConfirmationRequest, _Mapping]] = ..., cancel: _Optional[_Union[CancelRequest, _Mapping]] = ..., take_control: _Optional[_Union[TakeControlRequest, _Mapping]] = ..., release_control: _Optional[_Union[ReleaseControlRequest, _Mapping]] = ...) -> None: ...

class ControlReply(_message.Message):
    __slots__ = ("session", "code", "message")
    SESSION_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    session: _session_pb2.Session
    code: int
    message: str
    def __init__(self, session: _Optional[_Union[_session_pb2.Session, _Mapping]] = ..., code: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...
