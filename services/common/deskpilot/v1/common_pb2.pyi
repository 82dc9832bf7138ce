from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ImageFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    IMAGE_FORMAT_UNSPECIFIED: _ClassVar[ImageFormat]
    IMAGE_FORMAT_PNG: _ClassVar[ImageFormat]
    IMAGE_FORMAT_JPEG: _ClassVar[ImageFormat]
    IMAGE_FORMAT_WEBP: _ClassVar[ImageFormat]

class ComputerToolVersion(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COMPUTER_TOOL_VERSION_UNSPECIFIED: _ClassVar[ComputerToolVersion]
    COMPUTER_TOOL_VERSION_20241022: _ClassVar[ComputerToolVersion]
    COMPUTER_TOOL_VERSION_20250124: _ClassVar[ComputerToolVersion]
    COMPUTER_TOOL_VERSION_20251124: _ClassVar[ComputerToolVersion]
    COMPUTER_TOOL_VERSION_TOOLSET_20260801: _ClassVar[ComputerToolVersion]

class BashToolVersion(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BASH_TOOL_VERSION_UNSPECIFIED: _ClassVar[BashToolVersion]
    BASH_TOOL_VERSION_20241022: _ClassVar[BashToolVersion]
    BASH_TOOL_VERSION_20250124: _ClassVar[BashToolVersion]

class EditorToolVersion(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EDITOR_TOOL_VERSION_UNSPECIFIED: _ClassVar[EditorToolVersion]
    EDITOR_TOOL_VERSION_20241022: _ClassVar[EditorToolVersion]
    EDITOR_TOOL_VERSION_20250124: _ClassVar[EditorToolVersion]
    EDITOR_TOOL_VERSION_20250429: _ClassVar[EditorToolVersion]
    EDITOR_TOOL_VERSION_20250728: _ClassVar[EditorToolVersion]
IMAGE_FORMAT_UNSPECIFIED: ImageFormat
IMAGE_FORMAT_PNG: ImageFormat
IMAGE_FORMAT_JPEG: ImageFormat
IMAGE_FORMAT_WEBP: ImageFormat
COMPUTER_TOOL_VERSION_UNSPECIFIED: ComputerToolVersion
COMPUTER_TOOL_VERSION_20241022: ComputerToolVersion
COMPUTER_TOOL_VERSION_20250124: ComputerToolVersion
COMPUTER_TOOL_VERSION_20251124: ComputerToolVersion
COMPUTER_TOOL_VERSION_TOOLSET_20260801: ComputerToolVersion
BASH_TOOL_VERSION_UNSPECIFIED: BashToolVersion
BASH_TOOL_VERSION_20241022: BashToolVersion
BASH_TOOL_VERSION_20250124: BashToolVersion
EDITOR_TOOL_VERSION_UNSPECIFIED: EditorToolVersion
EDITOR_TOOL_VERSION_20241022: EditorToolVersion
EDITOR_TOOL_VERSION_20250124: EditorToolVersion
EDITOR_TOOL_VERSION_20250429: EditorToolVersion
EDITOR_TOOL_VERSION_20250728: EditorToolVersion

class Point(_message.Message):
    __slots__ = ("x", "y")
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    x: int
    y: int
    def __init__(self, x: _Optional[int] = ..., y: _Optional[int] = ...) -> None: ...

class Size(_message.Message):
    __slots__ = ("width", "height")
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    width: int
    height: int
    def __init__(self, width: _Optional[int] = ..., height: _Optional[int] = ...) -> None: ...

class Rect(_message.Message):
    __slots__ = ("x0", "y0", "x1", "y1")
    X0_FIELD_NUMBER: _ClassVar[int]
    Y0_FIELD_NUMBER: _ClassVar[int]
    X1_FIELD_NUMBER: _ClassVar[int]
    Y1_FIELD_NUMBER: _ClassVar[int]
    x0: int
    y0: int
    x1: int
    y1: int
    def __init__(self, x0: _Optional[int] = ..., y0: _Optional[int] = ..., x1: _Optional[int] = ..., y1: _Optional[int] = ...) -> None: ...

class Image(_message.Message):
    __slots__ = ("format", "data", "width", "height")
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    format: ImageFormat
    data: bytes
    width: int
    height: int
    def __init__(self, format: _Optional[_Union[ImageFormat, str]] = ..., data: _Optional[bytes] = ..., width: _Optional[int] = ..., height: _Optional[int] = ...) -> None: ...

class ObjectRef(_message.Message):
    __slots__ = ("bucket", "name", "size", "sha256", "content_type")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    name: str
    size: int
    sha256: str
    content_type: str
    def __init__(self, bucket: _Optional[str] = ..., name: _Optional[str] = ..., size: _Optional[int] = ..., sha256: _Optional[str] = ..., content_type: _Optional[str] = ...) -> None: ...

class ToolCall(_message.Message):
    __slots__ = ("tool_use_id", "name", "tool_type", "input")
    TOOL_USE_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TOOL_TYPE_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    tool_use_id: str
    name: str
    tool_type: str
    input: _struct_pb2.Struct
    def __init__(self, tool_use_id: _Optional[str] = ..., name: _Optional[str] = ..., tool_type: _Optional[str] = ..., input: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class Widget(_message.Message):
    __slots__ = ("role", "name", "description", "states", "label")
    ROLE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    role: str
    name: str
    description: str
    states: _containers.RepeatedScalarFieldContainer[str]
    label: str
    def __init__(self, role: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., states: _Optional[_Iterable[str]] = ..., label: _Optional[str] = ...) -> None: ...

class UiContext(_message.Message):
    __slots__ = ("available", "widget", "dialog_title", "dialog_text", "focused", "focus_in_address_bar", "window_class", "url", "note")
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    WIDGET_FIELD_NUMBER: _ClassVar[int]
    DIALOG_TITLE_FIELD_NUMBER: _ClassVar[int]
    DIALOG_TEXT_FIELD_NUMBER: _ClassVar[int]
    FOCUSED_FIELD_NUMBER: _ClassVar[int]
    FOCUS_IN_ADDRESS_BAR_FIELD_NUMBER: _ClassVar[int]
    WINDOW_CLASS_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    available: bool
    widget: Widget
    dialog_title: str
    dialog_text: str
    focused: Widget
    focus_in_address_bar: bool
    window_class: str
    url: str
    note: str
    def __init__(self, available: _Optional[bool] = ..., widget: _Optional[_Union[Widget, _Mapping]] = ..., dialog_title: _Optional[str] = ..., dialog_text: _Optional[str] = ..., focused: _Optional[_Union[Widget, _Mapping]] = ..., focus_in_address_bar: _Optional[bool] = ..., window_class: _Optional[str] = ..., url: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...
