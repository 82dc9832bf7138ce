from deskpilot.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class OutputStream(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OUTPUT_STREAM_UNSPECIFIED: _ClassVar[OutputStream]
    OUTPUT_STREAM_STDOUT: _ClassVar[OutputStream]
    OUTPUT_STREAM_STDERR: _ClassVar[OutputStream]
OUTPUT_STREAM_UNSPECIFIED: OutputStream
OUTPUT_STREAM_STDOUT: OutputStream
OUTPUT_STREAM_STDERR: OutputStream

class BashCommand(_message.Message):
    __slots__ = ("command", "restart")
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    RESTART_FIELD_NUMBER: _ClassVar[int]
    command: str
    restart: bool
    def __init__(self, command: _Optional[str] = ..., restart: _Optional[bool] = ...) -> None: ...

class BashRequest(_message.Message):
    __slots__ = ("command", "tool_call", "version", "timeout_seconds", "max_output_bytes", "idempotency_key")
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    MAX_OUTPUT_BYTES_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    command: BashCommand
    tool_call: _common_pb2.ToolCall
    version: _common_pb2.BashToolVersion
    timeout_seconds: float
    max_output_bytes: int
    idempotency_key: str
    def __init__(self, command: _Optional[_Union[BashCommand, _Mapping]] = ..., tool_call: _Optional[_Union[_common_pb2.ToolCall, _Mapping]] = ..., version: _Optional[_Union[_common_pb2.BashToolVersion, str]] = ..., timeout_seconds: _Optional[float] = ..., max_output_bytes: _Optional[int] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class Truncation(_message.Message):
    __slots__ = ("truncated", "total_bytes", "omitted_bytes")
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    OMITTED_BYTES_FIELD_NUMBER: _ClassVar[int]
    truncated: bool
    total_bytes: int
    omitted_bytes: int
    def __init__(self, truncated: _Optional[bool] = ..., total_bytes: _Optional[int] = ..., omitted_bytes: _Optional[int] = ...) -> None: ...

class BashResponse(_message.Message):
    __slots__ = ("stdout", "stderr", "exit_code", "timed_out", "restarted", "note", "stdout_truncation", "stderr_truncation", "duration_ms", "replayed", "waited_for_input", "outcome_unknown")
    STDOUT_FIELD_NUMBER: _ClassVar[int]
    STDERR_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    TIMED_OUT_FIELD_NUMBER: _ClassVar[int]
    RESTARTED_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    STDOUT_TRUNCATION_FIELD_NUMBER: _ClassVar[int]
    STDERR_TRUNCATION_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    WAITED_FOR_INPUT_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_UNKNOWN_FIELD_NUMBER: _ClassVar[int]
    stdout: str
    stderr: str
    exit_code: int
    timed_out: bool
    restarted: bool
    note: str
    stdout_truncation: Truncation
    stderr_truncation: Truncation
    duration_ms: float
    replayed: bool
    waited_for_input: bool
    outcome_unknown: bool
    def __init__(self, stdout: _Optional[str] = ..., stderr: _Optional[str] = ..., exit_code: _Optional[int] = ..., timed_out: _Optional[bool] = ..., restarted: _Optional[bool] = ..., note: _Optional[str] = ..., stdout_truncation: _Optional[_Union[Truncation, _Mapping]] = ..., stderr_truncation: _Optional[_Union[Truncation, _Mapping]] = ..., duration_ms: _Optional[float] = ..., replayed: _Optional[bool] = ..., waited_for_input: _Optional[bool] = ..., outcome_unknown: _Optional[bool] = ...) -> None: ...

class BashStreamRequest(_message.Message):
    __slots__ = ("request",)
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: BashRequest
    def __init__(self, request: _Optional[_Union[BashRequest, _Mapping]] = ...) -> None: ...

class OutputChunk(_message.Message):
    __slots__ = ("stream", "text")
    STREAM_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    stream: OutputStream
    text: str
    def __init__(self, stream: _Optional[_Union[OutputStream, str]] = ..., text: _Optional[str] = ...) -> None: ...

class BashStreamResponse(_message.Message):
    __slots__ = ("chunk", "result")
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    chunk: OutputChunk
    result: BashResponse
    def __init__(self, chunk: _Optional[_Union[OutputChunk, _Mapping]] = ..., result: _Optional[_Union[BashResponse, _Mapping]] = ...) -> None: ...

class LineRange(_message.Message):
    __slots__ = ("start", "end")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    start: int
    end: int
    def __init__(self, start: _Optional[int] = ..., end: _Optional[int] = ...) -> None: ...

class ViewCommand(_message.Message):
    __slots__ = ("path", "view_range", "max_characters")
    PATH_FIELD_NUMBER: _ClassVar[int]
    VIEW_RANGE_FIELD_NUMBER: _ClassVar[int]
    MAX_CHARACTERS_FIELD_NUMBER: _ClassVar[int]
    path: str
    view_range: LineRange
    max_characters: int
    def __init__(self, path: _Optional[str] = ..., view_range: _Optional[_Union[LineRange, _Mapping]] = ..., max_characters: _Optional[int] = ...) -> None: ...

class CreateCommand(_message.Message):
    __slots__ = ("path", "file_text")
    PATH_FIELD_NUMBER: _ClassVar[int]
    FILE_TEXT_FIELD_NUMBER: _ClassVar[int]
    path: str
    file_text: str
    def __init__(self, path: _Optional[str] = ..., file_text: _Optional[str] = ...) -> None: ...

class StrReplaceCommand(_message.Message):
    __slots__ = ("path", "old_str", "new_str")
    PATH_FIELD_NUMBER: _ClassVar[int]
    OLD_STR_FIELD_NUMBER: _ClassVar[int]
    NEW_STR_FIELD_NUMBER: _ClassVar[int]
    path: str
    old_str: str
    new_str: str
    def __init__(self, path: _Optional[str] = ..., old_str: _Optional[str] = ..., new_str: _Optional[str] = ...) -> None: ...

class InsertCommand(_message.Message):
    __slots__ = ("path", "insert_line", "insert_text")
    PATH_FIELD_NUMBER: _ClassVar[int]
    INSERT_LINE_FIELD_NUMBER: _ClassVar[int]
    INSERT_TEXT_FIELD_NUMBER: _ClassVar[int]
    path: str
    insert_line: int
    insert_text: str
    def __init__(self, path: _Optional[str] = ..., insert_line: _Optional[int] = ..., insert_text: _Optional[str] = ...) -> None: ...

class UndoEditCommand(_message.Message):
    __slots__ = ("path",)
    PATH_FIELD_NUMBER: _ClassVar[int]
    path: str
    def __init__(self, path: _Optional[str] = ...) -> None: ...

class EditCommand(_message.Message):
    __slots__ = ("view", "create", "str_replace", "insert", "undo_edit")
    VIEW_FIELD_NUMBER: _ClassVar[int]
    CREATE_FIELD_NUMBER: _ClassVar[int]
    STR_REPLACE_FIELD_NUMBER: _ClassVar[int]
    INSERT_FIELD_NUMBER: _ClassVar[int]
    UNDO_EDIT_FIELD_NUMBER: _ClassVar[int]
    view: ViewCommand
    create: CreateCommand
    str_replace: StrReplaceCommand
    insert: InsertCommand
    undo_edit: UndoEditCommand
    def __init__(self, view: _Optional[_Union[ViewCommand, _Mapping]] = ..., create: _Optional[_Union[CreateCommand, _Mapping]] = ..., str_replace: _Optional[_Union[StrReplaceCommand, _Mapping]] = ..., insert: _Optional[_Union[InsertCommand, _Mapping]] = ..., undo_edit: _Optional[_Union[UndoEditCommand, _Mapping]] = ...) -> None: ...

class EditRequest(_message.Message):
    __slots__ = ("command", "tool_call", "version", "idempotency_key", "max_characters")
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    MAX_CHARACTERS_FIELD_NUMBER: _ClassVar[int]
    command: EditCommand
    tool_call: _common_pb2.ToolCall
    version: _common_pb2.EditorToolVersion
    idempotency_key: str
    max_characters: int
    def __init__(self, command: _Optional[_Union[EditCommand, _Mapping]] = ..., tool_call: _Optional[_Union[_common_pb2.ToolCall, _Mapping]] = ..., version: _Optional[_Union[_common_pb2.EditorToolVersion, str]] = ..., idempotency_key: _Optional[str] = ..., max_characters: _Optional[int] = ...) -> None: ...

class EditResponse(_message.Message):
    __slots__ = ("output", "path", "changed", "replayed", "outcome_unknown")
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_UNKNOWN_FIELD_NUMBER: _ClassVar[int]
    output: str
    path: str
    changed: bool
    replayed: bool
    outcome_unknown: bool
    def __init__(self, output: _Optional[str] = ..., path: _Optional[str] = ..., changed: _Optional[bool] = ..., replayed: _Optional[bool] = ..., outcome_unknown: _Optional[bool] = ...) -> None: ...
