from deskpilot.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Decision(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DECISION_UNSPECIFIED: _ClassVar[Decision]
    DECISION_ALLOW: _ClassVar[Decision]
    DECISION_CONFIRM: _ClassVar[Decision]
    DECISION_BLOCK: _ClassVar[Decision]

class ContentSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONTENT_SOURCE_UNSPECIFIED: _ClassVar[ContentSource]
    CONTENT_SOURCE_SCREENSHOT: _ClassVar[ContentSource]
    CONTENT_SOURCE_BASH_OUTPUT: _ClassVar[ContentSource]
    CONTENT_SOURCE_FILE_TEXT: _ClassVar[ContentSource]
    CONTENT_SOURCE_OTHER: _ClassVar[ContentSource]

class InjectionLevel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INJECTION_LEVEL_UNSPECIFIED: _ClassVar[InjectionLevel]
    INJECTION_LEVEL_NONE: _ClassVar[InjectionLevel]
    INJECTION_LEVEL_TAINT: _ClassVar[InjectionLevel]
    INJECTION_LEVEL_CONFIRM: _ClassVar[InjectionLevel]
DECISION_UNSPECIFIED: Decision
DECISION_ALLOW: Decision
DECISION_CONFIRM: Decision
DECISION_BLOCK: Decision
CONTENT_SOURCE_UNSPECIFIED: ContentSource
CONTENT_SOURCE_SCREENSHOT: ContentSource
CONTENT_SOURCE_BASH_OUTPUT: ContentSource
CONTENT_SOURCE_FILE_TEXT: ContentSource
CONTENT_SOURCE_OTHER: ContentSource
INJECTION_LEVEL_UNSPECIFIED: InjectionLevel
INJECTION_LEVEL_NONE: InjectionLevel
INJECTION_LEVEL_TAINT: InjectionLevel
INJECTION_LEVEL_CONFIRM: InjectionLevel

class PolicyRule(_message.Message):
    __slots__ = ("id", "tools", "pattern", "decision", "reason")
    ID_FIELD_NUMBER: _ClassVar[int]
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    PATTERN_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    id: str
    tools: _containers.RepeatedScalarFieldContainer[str]
    pattern: str
    decision: Decision
    reason: str
    def __init__(self, id: _Optional[str] = ..., tools: _Optional[_Iterable[str]] = ..., pattern: _Optional[str] = ..., decision: _Optional[_Union[Decision, str]] = ..., reason: _Optional[str] = ...) -> None: ...

class SafetyPolicy(_message.Message):
    __slots__ = ("allowed_domains", "category_decisions", "rules", "taint_threshold", "confirm_threshold")
    class CategoryDecisionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Decision
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Decision, str]] = ...) -> None: ...
    ALLOWED_DOMAINS_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_DECISIONS_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    TAINT_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    CONFIRM_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    allowed_domains: _containers.RepeatedScalarFieldContainer[str]
    category_decisions: _containers.ScalarMap[str, Decision]
    rules: _containers.RepeatedCompositeFieldContainer[PolicyRule]
    taint_threshold: float
    confirm_threshold: float
    def __init__(self, allowed_domains: _Optional[_Iterable[str]] = ..., category_decisions: _Optional[_Mapping[str, Decision]] = ..., rules: _Optional[_Iterable[_Union[PolicyRule, _Mapping]]] = ..., taint_threshold: _Optional[float] = ..., confirm_threshold: _Optional[float] = ...) -> None: ...

class ActionContext(_message.Message):
    __slots__ = ("session_id", "screenshot", "url", "window_title", "tainted", "previous_call", "ui")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    SCREENSHOT_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    WINDOW_TITLE_FIELD_NUMBER: _ClassVar[int]
    TAINTED_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_CALL_FIELD_NUMBER: _ClassVar[int]
    UI_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    screenshot: _common_pb2.Image
    url: str
    window_title: str
    tainted: bool
    previous_call: _common_pb2.ToolCall
    ui: _common_pb2.UiContext
    def __init__(self, session_id: _Optional[str] = ..., screenshot: _Optional[_Union[_common_pb2.Image, _Mapping]] = ..., url: _Optional[str] = ..., window_title: _Optional[str] = ..., tainted: _Optional[bool] = ..., previous_call: _Optional[_Union[_common_pb2.ToolCall, _Mapping]] = ..., ui: _Optional[_Union[_common_pb2.UiContext, _Mapping]] = ...) -> None: ...

class CheckActionRequest(_message.Message):
    __slots__ = ("call", "context", "policy", "task")
    CALL_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    call: _common_pb2.ToolCall
    context: ActionContext
    policy: SafetyPolicy
    task: str
    def __init__(self, call: _Optional[_Union[_common_pb2.ToolCall, _Mapping]] = ..., context: _Optional[_Union[ActionContext, _Mapping]] = ..., policy: _Optional[_Union[SafetyPolicy, _Mapping]] = ..., task: _Optional[str] = ...) -> None: ...

class Reason(_message.Message):
    __slots__ = ("rule_id", "category", "decision", "message")
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    rule_id: str
    category: str
    decision: Decision
    message: str
    def __init__(self, rule_id: _Optional[str] = ..., category: _Optional[str] = ..., decision: _Optional[_Union[Decision, str]] = ..., message: _Optional[str] = ...) -> None: ...

class Verdict(_message.Message):
    __slots__ = ("decision", "reasons", "fail_closed")
    DECISION_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    FAIL_CLOSED_FIELD_NUMBER: _ClassVar[int]
    decision: Decision
    reasons: _containers.RepeatedCompositeFieldContainer[Reason]
    fail_closed: bool
    def __init__(self, decision: _Optional[_Union[Decision, str]] = ..., reasons: _Optional[_Iterable[_Union[Reason, _Mapping]]] = ..., fail_closed: _Optional[bool] = ...) -> None: ...

class CheckActionResponse(_message.Message):
    __slots__ = ("verdict", "elapsed_ms", "judge")
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    ELAPSED_MS_FIELD_NUMBER: _ClassVar[int]
    JUDGE_FIELD_NUMBER: _ClassVar[int]
    verdict: Verdict
    elapsed_ms: float
    judge: JudgeReport
    def __init__(self, verdict: _Optional[_Union[Verdict, _Mapping]] = ..., elapsed_ms: _Optional[float] = ..., judge: _Optional[_Union[JudgeReport, _Mapping]] = ...) -> None: ...

class ScanContentRequest(_message.Message):
    __slots__ = ("text", "image", "source", "session_id", "policy", "task")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    text: str
    image: _common_pb2.Image
    source: ContentSource
    session_id: str
    policy: SafetyPolicy
    task: str
    def __init__(self, text: _Optional[str] = ..., image: _Optional[_Union[_common_pb2.Image, _Mapping]] = ..., source: _Optional[_Union[ContentSource, str]] = ..., session_id: _Optional[str] = ..., policy: _Optional[_Union[SafetyPolicy, _Mapping]] = ..., task: _Optional[str] = ...) -> None: ...

class Span(_message.Message):
    __slots__ = ("start", "end", "text", "score", "box")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    BOX_FIELD_NUMBER: _ClassVar[int]
    start: int
    end: int
    text: str
    score: float
    box: _common_pb2.Rect
    def __init__(self, start: _Optional[int] = ..., end: _Optional[int] = ..., text: _Optional[str] = ..., score: _Optional[float] = ..., box: _Optional[_Union[_common_pb2.Rect, _Mapping]] = ...) -> None: ...

class ScanContentResponse(_message.Message):
    __slots__ = ("injection", "score", "level", "spans", "text", "elapsed_ms", "judge")
    INJECTION_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    SPANS_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    ELAPSED_MS_FIELD_NUMBER: _ClassVar[int]
    JUDGE_FIELD_NUMBER: _ClassVar[int]
    injection: bool
    score: float
    level: InjectionLevel
    spans: _containers.RepeatedCompositeFieldContainer[Span]
    text: str
    elapsed_ms: float
    judge: JudgeReport
    def __init__(self, injection: _Optional[bool] = ..., score: _Optional[float] = ..., level: _Optional[_Union[InjectionLevel, str]] = ..., spans: _Optional[_Iterable[_Union[Span, _Mapping]]] = ..., text: _Optional[str] = ..., elapsed_ms: _Optional[float] = ..., judge: _Optional[_Union[JudgeReport, _Mapping]] = ...) -> None: ...

class JudgeReport(_message.Message):
    __slots__ = ("asked", "injection", "confidence", "reason", "failed", "over_budget", "model", "latency_ms", "input_tokens", "output_tokens", "cost_usd")
    ASKED_FIELD_NUMBER: _ClassVar[int]
    INJECTION_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    OVER_BUDGET_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COST_USD_FIELD_NUMBER: _ClassVar[int]
    asked: bool
    injection: bool
    confidence: float
    reason: str
    failed: bool
    over_budget: bool
    model: str
    latency_ms: float
    input_tokens: int
    output_tokens: int
    cost_usd: float
    def __init__(self, asked: _Optional[bool] = ..., injection: _Optional[bool] = ..., confidence: _Optional[float] = ..., reason: _Optional[str] = ..., failed: _Optional[bool] = ..., over_budget: _Optional[bool] = ..., model: _Optional[str] = ..., latency_ms: _Optional[float] = ..., input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ..., cost_usd: _Optional[float] = ...) -> None: ...

class ValidatePolicyRequest(_message.Message):
    __slots__ = ("policy",)
    POLICY_FIELD_NUMBER: _ClassVar[int]
    policy: SafetyPolicy
    def __init__(self, policy: _Optional[_Union[SafetyPolicy, _Mapping]] = ...) -> None: ...

class PolicyProblem(_message.Message):
    __slots__ = ("field", "message")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    field: str
    message: str
    def __init__(self, field: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class ValidatePolicyResponse(_message.Message):
    __slots__ = ("problems",)
    PROBLEMS_FIELD_NUMBER: _ClassVar[int]
    problems: _containers.RepeatedCompositeFieldContainer[PolicyProblem]
    def __init__(self, problems: _Optional[_Iterable[_Union[PolicyProblem, _Mapping]]] = ...) -> None: ...
