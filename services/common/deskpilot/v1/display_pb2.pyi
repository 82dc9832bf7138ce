from deskpilot.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ScalingMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SCALING_MODE_UNSPECIFIED: _ClassVar[ScalingMode]
    SCALING_MODE_AUTO: _ClassVar[ScalingMode]
    SCALING_MODE_NONE: _ClassVar[ScalingMode]
    SCALING_MODE_FIXED: _ClassVar[ScalingMode]

class MouseButton(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MOUSE_BUTTON_UNSPECIFIED: _ClassVar[MouseButton]
    MOUSE_BUTTON_LEFT: _ClassVar[MouseButton]
    MOUSE_BUTTON_MIDDLE: _ClassVar[MouseButton]
    MOUSE_BUTTON_RIGHT: _ClassVar[MouseButton]

class ScrollDirection(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SCROLL_DIRECTION_UNSPECIFIED: _ClassVar[ScrollDirection]
    SCROLL_DIRECTION_UP: _ClassVar[ScrollDirection]
    SCROLL_DIRECTION_DOWN: _ClassVar[ScrollDirection]
    SCROLL_DIRECTION_LEFT: _ClassVar[ScrollDirection]
    SCROLL_DIRECTION_RIGHT: _ClassVar[ScrollDirection]
SCALING_MODE_UNSPECIFIED: ScalingMode
SCALING_MODE_AUTO: ScalingMode
SCALING_MODE_NONE: ScalingMode
SCALING_MODE_FIXED: ScalingMode
MOUSE_BUTTON_UNSPECIFIED: MouseButton
MOUSE_BUTTON_LEFT: MouseButton
MOUSE_BUTTON_MIDDLE: MouseButton
MOUSE_BUTTON_RIGHT: MouseButton
SCROLL_DIRECTION_UNSPECIFIED: ScrollDirection
SCROLL_DIRECTION_UP: ScrollDirection
SCROLL_DIRECTION_DOWN: ScrollDirection
SCROLL_DIRECTION_LEFT: ScrollDirection
SCROLL_DIRECTION_RIGHT: ScrollDirection

class ScreenSpace(_message.Message):
    __slots__ = ("mode", "target")
    MODE_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    mode: ScalingMode
    target: _common_pb2.Size
    def __init__(self, mode: _Optional[_Union[ScalingMode, str]] = ..., target: _Optional[_Union[_common_pb2.Size, _Mapping]] = ...) -> None: ...

class ScreenshotOptions(_message.Message):
    __slots__ = ("format", "quality")
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    QUALITY_FIELD_NUMBER: _ClassVar[int]
    format: _common_pb2.ImageFormat
    quality: int
    def __init__(self, format: _Optional[_Union[_common_pb2.ImageFormat, str]] = ..., quality: _Optional[int] = ...) -> None: ...

class SettlePolicy(_message.Message):
    __slots__ = ("quiet_ms", "max_ms", "disabled")
    QUIET_MS_FIELD_NUMBER: _ClassVar[int]
    MAX_MS_FIELD_NUMBER: _ClassVar[int]
    DISABLED_FIELD_NUMBER: _ClassVar[int]
    quiet_ms: int
    max_ms: int
    disabled: bool
    def __init__(self, quiet_ms: _Optional[int] = ..., max_ms: _Optional[int] = ..., disabled: _Optional[bool] = ...) -> None: ...

class KeyAction(_message.Message):
    __slots__ = ("text", "repeat")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    REPEAT_FIELD_NUMBER: _ClassVar[int]
    text: str
    repeat: int
    def __init__(self, text: _Optional[str] = ..., repeat: _Optional[int] = ...) -> None: ...

class HoldKeyAction(_message.Message):
    __slots__ = ("text", "duration_seconds")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    DURATION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    text: str
    duration_seconds: float
    def __init__(self, text: _Optional[str] = ..., duration_seconds: _Optional[float] = ...) -> None: ...

class TypeAction(_message.Message):
    __slots__ = ("text",)
    TEXT_FIELD_NUMBER: _ClassVar[int]
    text: str
    def __init__(self, text: _Optional[str] = ...) -> None: ...

class CursorPositionAction(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class MouseMoveAction(_message.Message):
    __slots__ = ("coordinate",)
    COORDINATE_FIELD_NUMBER: _ClassVar[int]
    coordinate: _common_pb2.Point
    def __init__(self, coordinate: _Optional[_Union[_common_pb2.Point, _Mapping]] = ...) -> None: ...

class MouseButtonAction(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ClickAction(_message.Message):
    __slots__ = ("coordinate", "modifiers")
    COORDINATE_FIELD_NUMBER: _ClassVar[int]
    MODIFIERS_FIELD_NUMBER: _ClassVar[int]
    coordinate: _common_pb2.Point
    modifiers: str
    def __init__(self, coordinate: _Optional[_Union[_common_pb2.Point, _Mapping]] = ..., modifiers: _Optional[str] = ...) -> None: ...

class DragAction(_message.Message):
    __slots__ = ("start_coordinate", "coordinate", "modifiers")
    START_COORDINATE_FIELD_NUMBER: _ClassVar[int]
    COORDINATE_FIELD_NUMBER: _ClassVar[int]
    MODIFIERS_FIELD_NUMBER: _ClassVar[int]
    start_coordinate: _common_pb2.Point
    coordinate: _common_pb2.Point
    modifiers: str
    def __init__(self, start_coordinate: _Optional[_Union[_common_pb2.Point, _Mapping]] = ..., coordinate: _Optional[_Union[_common_pb2.Point, _Mapping]] = ..., modifiers: _Optional[str] = ...) -> None: ...

class ScrollAction(_message.Message):
    __slots__ = ("direction", "amount", "coordinate", "modifiers")
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    COORDINATE_FIELD_NUMBER: _ClassVar[int]
    MODIFIERS_FIELD_NUMBER: _ClassVar[int]
    direction: ScrollDirection
    amount: int
    coordinate: _common_pb2.Point
    modifiers: str
    def __init__(self, direction: _Optional[_Union[ScrollDirection, str]] = ..., amount: _Optional[int] = ..., coordinate: _Optional[_Union[_common_pb2.Point, _Mapping]] = ..., modifiers: _Optional[str] = ...) -> None: ...

class WaitAction(_message.Message):
    __slots__ = ("duration_seconds",)
    DURATION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    duration_seconds: float
    def __init__(self, duration_seconds: _Optional[float] = ...) -> None: ...

class ScreenshotAction(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ZoomAction(_message.Message):
    __slots__ = ("region",)
    REGION_FIELD_NUMBER: _ClassVar[int]
    region: _common_pb2.Rect
    def __init__(self, region: _Optional[_Union[_common_pb2.Rect, _Mapping]] = ...) -> None: ...

class ComputerAction(_message.Message):
    __slots__ = ("key", "hold_key", "type", "cursor_position", "mouse_move", "left_mouse_down", "left_mouse_up", "left_click", "right_click", "middle_click", "double_click", "triple_click", "left_click_drag", "scroll", "wait", "screenshot", "zoom")
    KEY_FIELD_NUMBER: _ClassVar[int]
    HOLD_KEY_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    CURSOR_POSITION_FIELD_NUMBER: _ClassVar[int]
    MOUSE_MOVE_FIELD_NUMBER: _ClassVar[int]
    LEFT_MOUSE_DOWN_FIELD_NUMBER: _ClassVar[int]
    LEFT_MOUSE_UP_FIELD_NUMBER: _ClassVar[int]
    LEFT_CLICK_FIELD_NUMBER: _ClassVar[int]
    RIGHT_CLICK_FIELD_NUMBER: _ClassVar[int]
    MIDDLE_CLICK_FIELD_NUMBER: _ClassVar[int]
    DOUBLE_CLICK_FIELD_NUMBER: _ClassVar[int]
    TRIPLE_CLICK_FIELD_NUMBER: _ClassVar[int]
    LEFT_CLICK_DRAG_FIELD_NUMBER: _ClassVar[int]
    SCROLL_FIELD_NUMBER: _ClassVar[int]
    WAIT_FIELD_NUMBER: _ClassVar[int]
    SCREENSHOT_FIELD_NUMBER: _ClassVar[int]
    ZOOM_FIELD_NUMBER: _ClassVar[int]
    key: KeyAction
    hold_key: HoldKeyAction
    type: TypeAction
    cursor_position: CursorPositionAction
    mouse_move: MouseMoveAction
    left_mouse_down: MouseButtonAction
    left_mouse_up: MouseButtonAction
    left_click: ClickAction
    right_click: ClickAction
    middle_click: ClickAction
    double_click: ClickAction
    triple_click: ClickAction
    left_click_drag: DragAction
    scroll: ScrollAction
    wait: WaitAction
    screenshot: ScreenshotAction
    zoom: ZoomAction
    def __init__(self, key: _Optional[_Union[KeyAction, _Mapping]] = ..., hold_key: _Optional[_Union[HoldKeyAction, _Mapping]] = ..., type: _Optional[_Union[TypeAction, _Mapping]] = ..., cursor_position: _Optional[_Union[CursorPositionAction, _Mapping]] = ..., mouse_move: _Optional[_Union[MouseMoveAction, _Mapping]] = ..., left_mouse_down: _Optional[_Union[MouseButtonAction, _Mapping]] = ..., left_mouse_up: _Optional[_Union[MouseButtonAction, _Mapping]] = ..., left_click: _Optional[_Union[ClickAction, _Mapping]] = ..., right_click: _Optional[_Union[ClickAction, _Mapping]] = ..., middle_click: _Optional[_Union[ClickAction, _Mapping]] = ..., double_click: _Optional[_Union[ClickAction, _Mapping]] = ..., triple_click: _Optional[_Union[ClickAction, _Mapping]] = ..., left_click_drag: _Optional[_Union[DragAction, _Mapping]] = ..., scroll: _Optional[_Union[ScrollAction, _Mapping]] = ..., wait: _Optional[_Union[WaitAction, _Mapping]] = ..., screenshot: _Optional[_Union[ScreenshotAction, _Mapping]] = ..., zoom: _Optional[_Union[ZoomAction, _Mapping]] = ...) -> None: ...

class GetInfoRequest(_message.Message):
    __slots__ = ("screen_space",)
    SCREEN_SPACE_FIELD_NUMBER: _ClassVar[int]
    screen_space: ScreenSpace
    def __init__(self, screen_space: _Optional[_Union[ScreenSpace, _Mapping]] = ...) -> None: ...

class GetInfoResponse(_message.Message):
    __slots__ = ("display", "physical_size", "scaled_size", "depth", "supported_versions", "cursor_position")
    DISPLAY_FIELD_NUMBER: _ClassVar[int]
    PHYSICAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    SCALED_SIZE_FIELD_NUMBER: _ClassVar[int]
    DEPTH_FIELD_NUMBER: _ClassVar[int]
    SUPPORTED_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    CURSOR_POSITION_FIELD_NUMBER: _ClassVar[int]
    display: str
    physical_size: _common_pb2.Size
    scaled_size: _common_pb2.Size
    depth: int
    supported_versions: _containers.RepeatedScalarFieldContainer[_common_pb2.ComputerToolVersion]
    cursor_position: _common_pb2.Point
    def __init__(self, display: _Optional[str] = ..., physical_size: _Optional[_Union[_common_pb2.Size, _Mapping]] = ..., scaled_size: _Optional[_Union[_common_pb2.Size, _Mapping]] = ..., depth: _Optional[int] = ..., supported_versions: _Optional[_Iterable[_Union[_common_pb2.ComputerToolVersion, str]]] = ..., cursor_position: _Optional[_Union[_common_pb2.Point, _Mapping]] = ...) -> None: ...

class ScreenshotRequest(_message.Message):
    __slots__ = ("screen_space", "options")
    SCREEN_SPACE_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    screen_space: ScreenSpace
    options: ScreenshotOptions
    def __init__(self, screen_space: _Optional[_Union[ScreenSpace, _Mapping]] = ..., options: _Optional[_Union[ScreenshotOptions, _Mapping]] = ...) -> None: ...

class ScreenshotResponse(_message.Message):
    __slots__ = ("image", "physical_size")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    PHYSICAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    image: _common_pb2.Image
    physical_size: _common_pb2.Size
    def __init__(self, image: _Optional[_Union[_common_pb2.Image, _Mapping]] = ..., physical_size: _Optional[_Union[_common_pb2.Size, _Mapping]] = ...) -> None: ...

class ActRequest(_message.Message):
    __slots__ = ("action", "tool_call", "version", "screen_space", "return_screenshot", "screenshot_options", "settle", "idempotency_key", "return_ui")
    ACTION_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SCREEN_SPACE_FIELD_NUMBER: _ClassVar[int]
    RETURN_SCREENSHOT_FIELD_NUMBER: _ClassVar[int]
    SCREENSHOT_OPTIONS_FIELD_NUMBER: _ClassVar[int]
    SETTLE_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    RETURN_UI_FIELD_NUMBER: _ClassVar[int]
    action: ComputerAction
    tool_call: _common_pb2.ToolCall
    version: _common_pb2.ComputerToolVersion
    screen_space: ScreenSpace
    return_screenshot: bool
    screenshot_options: ScreenshotOptions
    settle: SettlePolicy
    idempotency_key: str
    return_ui: bool
    def __init__(self, action: _Optional[_Union[ComputerAction, _Mapping]] = ..., tool_call: _Optional[_Union[_common_pb2.ToolCall, _Mapping]] = ..., version: _Optional[_Union[_common_pb2.ComputerToolVersion, str]] = ..., screen_space: _Optional[_Union[ScreenSpace, _Mapping]] = ..., return_screenshot: _Optional[bool] = ..., screenshot_options: _Optional[_Union[ScreenshotOptions, _Mapping]] = ..., settle: _Optional[_Union[SettlePolicy, _Mapping]] = ..., idempotency_key: _Optional[str] = ..., return_ui: _Optional[bool] = ...) -> None: ...

class ActionTiming(_message.Message):
    __slots__ = ("input_ms", "settle_ms", "capture_ms", "encode_ms", "total_ms")
    INPUT_MS_FIELD_NUMBER: _ClassVar[int]
    SETTLE_MS_FIELD_NUMBER: _ClassVar[int]
    CAPTURE_MS_FIELD_NUMBER: _ClassVar[int]
    ENCODE_MS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_MS_FIELD_NUMBER: _ClassVar[int]
    input_ms: float
    settle_ms: float
    capture_ms: float
    encode_ms: float
    total_ms: float
    def __init__(self, input_ms: _Optional[float] = ..., settle_ms: _Optional[float] = ..., capture_ms: _Optional[float] = ..., encode_ms: _Optional[float] = ..., total_ms: _Optional[float] = ...) -> None: ...

class ActResponse(_message.Message):
    __slots__ = ("action", "output", "cursor_position", "screenshot", "settled", "replayed", "timing", "outcome_unknown", "ui")
    ACTION_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_POSITION_FIELD_NUMBER: _ClassVar[int]
    SCREENSHOT_FIELD_NUMBER: _ClassVar[int]
    SETTLED_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    TIMING_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_UNKNOWN_FIELD_NUMBER: _ClassVar[int]
    UI_FIELD_NUMBER: _ClassVar[int]
    action: str
    output: str
    cursor_position: _common_pb2.Point
    screenshot: _common_pb2.Image
    settled: bool
    replayed: bool
    timing: ActionTiming
    outcome_unknown: bool
    ui: _common_pb2.UiContext
    def __init__(self, action: _Optional[str] = ..., output: _Optional[str] = ..., cursor_position: _Optional[_Union[_common_pb2.Point, _Mapping]] = ..., screenshot: _Optional[_Union[_common_pb2.Image, _Mapping]] = ..., settled: _Optional[bool] = ..., replayed: _Optional[bool] = ..., timing: _Optional[_Union[ActionTiming, _Mapping]] = ..., outcome_unknown: _Optional[bool] = ..., ui: _Optional[_Union[_common_pb2.UiContext, _Mapping]] = ...) -> None: ...

class InspectRequest(_message.Message):
    __slots__ = ("point", "screen_space")
    POINT_FIELD_NUMBER: _ClassVar[int]
    SCREEN_SPACE_FIELD_NUMBER: _ClassVar[int]
    point: _common_pb2.Point
    screen_space: ScreenSpace
    def __init__(self, point: _Optional[_Union[_common_pb2.Point, _Mapping]] = ..., screen_space: _Optional[_Union[ScreenSpace, _Mapping]] = ...) -> None: ...

class InspectResponse(_message.Message):
    __slots__ = ("ui", "elapsed_ms")
    UI_FIELD_NUMBER: _ClassVar[int]
    ELAPSED_MS_FIELD_NUMBER: _ClassVar[int]
    ui: _common_pb2.UiContext
    elapsed_ms: float
    def __init__(self, ui: _Optional[_Union[_common_pb2.UiContext, _Mapping]] = ..., elapsed_ms: _Optional[float] = ...) -> None: ...
