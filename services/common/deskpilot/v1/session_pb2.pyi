import datetime

from deskpilot.v1 import common_pb2 as _common_pb2
from deskpilot.v1 import safety_pb2 as _safety_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ToolSet(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TOOL_SET_UNSPECIFIED: _ClassVar[ToolSet]
    TOOL_SET_20241022: _ClassVar[ToolSet]
    TOOL_SET_20250124: _ClassVar[ToolSet]
    TOOL_SET_20250429: _ClassVar[ToolSet]
    TOOL_SET_20251124: _ClassVar[ToolSet]
    TOOL_SET_20260801: _ClassVar[ToolSet]

class SessionStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SESSION_STATUS_UNSPECIFIED: _ClassVar[SessionStatus]
    SESSION_STATUS_STARTING: _ClassVar[SessionStatus]
    SESSION_STATUS_RUNNING: _ClassVar[SessionStatus]
    SESSION_STATUS_WAITING_CONFIRMATION: _ClassVar[SessionStatus]
    SESSION_STATUS_WAITING_INPUT: _ClassVar[SessionStatus]
    SESSION_STATUS_PAUSED: _ClassVar[SessionStatus]
    SESSION_STATUS_FINISHED: _ClassVar[SessionStatus]
    SESSION_STATUS_CANCELLED: _ClassVar[SessionStatus]
    SESSION_STATUS_FAILED: _ClassVar[SessionStatus]
TOOL_SET_UNSPECIFIED: ToolSet
TOOL_SET_20241022: ToolSet
TOOL_SET_20250124: ToolSet
TOOL_SET_20250429: ToolSet
TOOL_SET_20251124: ToolSet
TOOL_SET_20260801: ToolSet
SESSION_STATUS_UNSPECIFIED: SessionStatus
SESSION_STATUS_STARTING: SessionStatus
SESSION_STATUS_RUNNING: SessionStatus
SESSION_STATUS_WAITING_CONFIRMATION: SessionStatus
SESSION_STATUS_WAITING_INPUT: SessionStatus
SESSION_STATUS_PAUSED: SessionStatus
SESSION_STATUS_FINISHED: SessionStatus
SESSION_STATUS_CANCELLED: SessionStatus
SESSION_STATUS_FAILED: SessionStatus

class SessionLimits(_message.Message):
    __slots__ = ("max_steps", "max_tokens", "max_wall_seconds", "no_progress_repeats", "bash_timeout_seconds")
    MAX_STEPS_FIELD_NUMBER: _ClassVar[int]
    MAX_TOKENS_FIELD_NUMBER: _ClassVar[int]
    MAX_WALL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    NO_PROGRESS_REPEATS_FIELD_NUMBER: _ClassVar[int]
    BASH_TIMEOUT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    max_steps: int
    max_tokens: int
    max_wall_seconds: int
    no_progress_repeats: int
    bash_timeout_seconds: int
    def __init__(self, max_steps: _Optional[int] = ..., max_tokens: _Optional[int] = ..., max_wall_seconds: _Optional[int] = ..., no_progress_repeats: _Optional[int] = ..., bash_timeout_seconds: _Optional[int] = ...) -> None: ...

class SessionConfig(_message.Message):
    __slots__ = ("task", "model", "display", "tool_set", "limits", "thinking_budget_tokens", "system_prompt_suffix", "safety_policy", "sandbox_template", "keep_recent_screenshots", "max_output_tokens", "labels")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TASK_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_FIELD_NUMBER: _ClassVar[int]
    TOOL_SET_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    THINKING_BUDGET_TOKENS_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_PROMPT_SUFFIX_FIELD_NUMBER: _ClassVar[int]
    SAFETY_POLICY_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    KEEP_RECENT_SCREENSHOTS_FIELD_NUMBER: _ClassVar[int]
    MAX_OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    task: str
    model: str
    display: _common_pb2.Size
    tool_set: ToolSet
    limits: SessionLimits
    thinking_budget_tokens: int
    system_prompt_suffix: str
    safety_policy: _safety_pb2.SafetyPolicy
    sandbox_template: str
    keep_recent_screenshots: int
    max_output_tokens: int
    labels: _containers.ScalarMap[str, str]
    def __init__(self, task: _Optional[str] = ..., model: _Optional[str] = ..., display: _Optional[_Union[_common_pb2.Size, _Mapping]] = ..., tool_set: _Optional[_Union[ToolSet, str]] = ..., limits: _Optional[_Union[SessionLimits, _Mapping]] = ..., thinking_budget_tokens: _Optional[int] = ..., system_prompt_suffix: _Optional[str] = ..., safety_policy: _Optional[_Union[_safety_pb2.SafetyPolicy, _Mapping]] = ..., sandbox_template: _Optional[str] = ..., keep_recent_screenshots: _Optional[int] = ..., max_output_tokens: _Optional[int] = ..., labels: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Usage(_message.Message):
    __slots__ = ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "cost_usd")
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CACHE_CREATION_INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CACHE_READ_INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COST_USD_FIELD_NUMBER: _ClassVar[int]
    input_tokens: int
    output_tokens: int
    cache_creation_input_tokens: int
    cache_read_input_tokens: int
    cost_usd: float
    def __init__(self, input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ..., cache_creation_input_tokens: _Optional[int] = ..., cache_read_input_tokens: _Optional[int] = ..., cost_usd: _Optional[float] = ...) -> None: ...

class SandboxEndpoints(_message.Message):
    __slots__ = ("display_address", "shell_address", "vnc_address", "sandbox_id")
    DISPLAY_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    SHELL_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    VNC_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_ID_FIELD_NUMBER: _ClassVar[int]
    display_address: str
    shell_address: str
    vnc_address: str
    sandbox_id: str
    def __init__(self, display_address: _Optional[str] = ..., shell_address: _Optional[str] = ..., vnc_address: _Optional[str] = ..., sandbox_id: _Optional[str] = ...) -> None: ...

class SandboxSecrets(_message.Message):
    __slots__ = ("vnc_password", "executor_credential")
    VNC_PASSWORD_FIELD_NUMBER: _ClassVar[int]
    EXECUTOR_CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    vnc_password: str
    executor_credential: str
    def __init__(self, vnc_password: _Optional[str] = ..., executor_credential: _Optional[str] = ...) -> None: ...

class ProvisionedSandbox(_message.Message):
    __slots__ = ("endpoints", "secrets")
    ENDPOINTS_FIELD_NUMBER: _ClassVar[int]
    SECRETS_FIELD_NUMBER: _ClassVar[int]
    endpoints: SandboxEndpoints
    secrets: SandboxSecrets
    def __init__(self, endpoints: _Optional[_Union[SandboxEndpoints, _Mapping]] = ..., secrets: _Optional[_Union[SandboxSecrets, _Mapping]] = ...) -> None: ...

class SandboxReady(_message.Message):
    __slots__ = ("endpoints", "secrets", "display", "x_server", "screen", "user", "home", "pid", "start_seconds", "missing")
    ENDPOINTS_FIELD_NUMBER: _ClassVar[int]
    SECRETS_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_FIELD_NUMBER: _ClassVar[int]
    X_SERVER_FIELD_NUMBER: _ClassVar[int]
    SCREEN_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    HOME_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    START_SECONDS_FIELD_NUMBER: _ClassVar[int]
    MISSING_FIELD_NUMBER: _ClassVar[int]
    endpoints: SandboxEndpoints
    secrets: SandboxSecrets
    display: str
    x_server: str
    screen: _common_pb2.Size
    user: str
    home: str
    pid: int
    start_seconds: float
    missing: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, endpoints: _Optional[_Union[SandboxEndpoints, _Mapping]] = ..., secrets: _Optional[_Union[SandboxSecrets, _Mapping]] = ..., display: _Optional[str] = ..., x_server: _Optional[str] = ..., screen: _Optional[_Union[_common_pb2.Size, _Mapping]] = ..., user: _Optional[str] = ..., home: _Optional[str] = ..., pid: _Optional[int] = ..., start_seconds: _Optional[float] = ..., missing: _Optional[_Iterable[str]] = ...) -> None: ...

class Session(_message.Message):
    __slots__ = ("id", "config", "status", "status_reason", "created_at", "updated_at", "steps", "usage", "tainted", "pending_confirmation_id", "controlled_by", "last_sequence", "model_is_stand_in", "sandbox_id", "owner")
    ID_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STATUS_REASON_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    TAINTED_FIELD_NUMBER: _ClassVar[int]
    PENDING_CONFIRMATION_ID_FIELD_NUMBER: _ClassVar[int]
    CONTROLLED_BY_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    MODEL_IS_STAND_IN_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    id: str
    config: SessionConfig
    status: SessionStatus
    status_reason: str
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    steps: int
    usage: Usage
    tainted: bool
    pending_confirmation_id: str
    controlled_by: str
    last_sequence: int
    model_is_stand_in: bool
    sandbox_id: str
    owner: SessionOwner
    def __init__(self, id: _Optional[str] = ..., config: _Optional[_Union[SessionConfig, _Mapping]] = ..., status: _Optional[_Union[SessionStatus, str]] = ..., status_reason: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., steps: _Optional[int] = ..., usage: _Optional[_Union[Usage, _Mapping]] = ..., tainted: _Optional[bool] = ..., pending_confirmation_id: _Optional[str] = ..., controlled_by: _Optional[str] = ..., last_sequence: _Optional[int] = ..., model_is_stand_in: _Optional[bool] = ..., sandbox_id: _Optional[str] = ..., owner: _Optional[_Union[SessionOwner, _Mapping]] = ...) -> None: ...

class SessionOwner(_message.Message):
    __slots__ = ("tenant", "subject")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    subject: str
    def __init__(self, tenant: _Optional[str] = ..., subject: _Optional[str] = ...) -> None: ...

class SessionRecord(_message.Message):
    __slots__ = ("session", "last_committed_step", "sandbox_secrets", "sandbox_endpoints", "sealed_sandbox_secrets")
    SESSION_FIELD_NUMBER: _ClassVar[int]
    LAST_COMMITTED_STEP_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_SECRETS_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_ENDPOINTS_FIELD_NUMBER: _ClassVar[int]
    SEALED_SANDBOX_SECRETS_FIELD_NUMBER: _ClassVar[int]
    session: Session
    last_committed_step: int
    sandbox_secrets: SandboxSecrets
    sandbox_endpoints: SandboxEndpoints
    sealed_sandbox_secrets: bytes
    def __init__(self, session: _Optional[_Union[Session, _Mapping]] = ..., last_committed_step: _Optional[int] = ..., sandbox_secrets: _Optional[_Union[SandboxSecrets, _Mapping]] = ..., sandbox_endpoints: _Optional[_Union[SandboxEndpoints, _Mapping]] = ..., sealed_sandbox_secrets: _Optional[bytes] = ...) -> None: ...
