"""Service settings from `DESKPILOT_*` environment variables and command-line flags.

Each service subclasses `ServiceSettings` and names itself in `service_name`. A field is
read, highest priority first, from:

1. its command-line flag (`--metrics-port 9101`);
2. `DESKPILOT_<SERVICE>_<FIELD>` (`DESKPILOT_DISPLAY_PORT=50061`);
3. for the fields components share (log level and format, NATS URL), also
   `DESKPILOT_<FIELD>` (`DESKPILOT_NATS_URL`), so one environment can configure a whole
   local stack while ports stay per service;
4. its default.

Settings of one area may be grouped in a nested model (the orchestrator's `sandbox`, with
one group per provider); a nested setting's flag joins the names with dots and its
variable with double underscores: `--sandbox.local.pool-size`,
`DESKPILOT_ORCHESTRATOR_SANDBOX__LOCAL__POOL_SIZE`.

`load_settings` turns a bad value into one line naming the setting and what is allowed.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, Field, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    CliSettingsSource,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings import (
    SettingsError as PydanticSettingsError,
)

ENV_PREFIX = "DESKPILOT_"
# Between the names of a nested setting in its variable: DESKPILOT_<SERVICE>_<GROUP>__<FIELD>.
NESTED_ENV_DELIMITER = "__"

LogLevel = Literal["debug", "info", "warning", "error"]
LogFormat = Literal["auto", "json", "text"]
_NATS_SCHEMES = ("nats", "tls", "ws", "wss")


class CommonSettings(BaseSettings):
    """Settings every deskpilot process understands."""

    model_config = SettingsConfigDict(
        extra="ignore", validate_default=True, env_nested_delimiter=NESTED_ENV_DELIMITER
    )

    service_name: ClassVar[str] = "common"

    log_level: LogLevel = Field("info", description="Lowest log level written.")
    log_format: LogFormat = Field(
        "auto", description="`json`, `text`, or `auto`: text on a terminal, JSON otherwise."
    )

    @classmethod
    def env_prefix(cls) -> str:
        """The prefix of this service's own variables, e.g. `DESKPILOT_DISPLAY_`."""
        return f"{ENV_PREFIX}{cls.service_name.upper()}_"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings]
        argv = _pending_argv.get(settings_cls)
        if argv is not None:
            sources.append(
                CliSettingsSource(
                    settings_cls,
                    cli_parse_args=list(argv),
                    cli_kebab_case=True,
                    cli_prog_name=f"deskpilot-{cls.service_name}",
                    cli_implicit_flags=True,
                    cli_exit_on_error=False,  # a bad flag is one line (SettingsError)
                )
            )
        sources.append(EnvSettingsSource(settings_cls, env_prefix=cls.env_prefix()))
        sources.append(_SharedEnvSource(settings_cls, env_prefix=ENV_PREFIX))
        return tuple(sources)


class NatsClientSettings(CommonSettings):
    """Mixin for components that talk to NATS."""

    nats_url: str = Field(
        "nats://127.0.0.1:4222", description="NATS server URL(s), comma separated."
    )
    nats_seed_file: Path | None = Field(
        None,
        description="This component's NATS identity: a file holding its nkey seed (`deskpilot "
        "up` writes one per service); empty: anonymous, which a secured server refuses.",
    )

    @field_validator("nats_url")
    @classmethod
    def _check_nats_urls(cls, value: str) -> str:
        for url in value.split(","):
            scheme, sep, rest = url.strip().partition("://")
            if not sep or scheme not in _NATS_SCHEMES or not rest:
                allowed = ", ".join(f"{s}://host:port" for s in _NATS_SCHEMES)
                raise ValueError(f"each URL must look like {allowed}")
        return value


class ServiceSettings(CommonSettings):
    """Settings of a process that serves gRPC."""

    host: str = Field(
        "127.0.0.1", description="Address the gRPC server binds; loopback unless configured."
    )
    port: int = Field(0, ge=0, le=65535, description="gRPC port; 0 picks a free one.")
    metrics_host: str = Field("127.0.0.1", description="Address of the Prometheus endpoint.")
    metrics_port: int = Field(
        -1, ge=-1, le=65535, description="Prometheus `/metrics` port; 0 picks one, -1 disables."
    )
    grace_seconds: float = Field(
        10.0, ge=0, le=600, description="How long in-flight RPCs may finish after SIGTERM."
    )
    max_message_mb: int = Field(
        32, ge=1, le=512, description="Largest gRPC message accepted or sent, in MiB."
    )


class _SharedEnvSource(EnvSettingsSource):
    """`DESKPILOT_<FIELD>` for the fields every service shares, and only those."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        if field_name not in SHARED_FIELDS:
            return None, field_name, False
        return super().get_field_value(field, field_name)


# Settings a whole local stack may set once as DESKPILOT_<FIELD>; not an identity, which
# is each component's own.
SHARED_FIELDS = frozenset(
    {*CommonSettings.model_fields, *NatsClientSettings.model_fields} - {"nats_seed_file"}
)

_pending_argv: dict[type, Sequence[str]] = {}

SettingsT = TypeVar("SettingsT", bound=CommonSettings)


class SettingsError(ValueError):
    """A setting has a value that is not allowed."""


def load_settings(
    settings_cls: type[SettingsT], argv: Sequence[str] | None = (), **overrides: Any
) -> SettingsT:
    """Build settings from flags (`argv`; None reads no flags), the environment and defaults.

    Raises SettingsError with one line naming the setting, its sources and what is allowed.
    """
    if argv is not None:
        _pending_argv[settings_cls] = argv
    try:
        return settings_cls(**overrides)
    except ValidationError as exc:
        raise SettingsError(describe_validation_error(settings_cls, exc)) from None
    except PydanticSettingsError as exc:  # a flag argparse cannot parse
        raise SettingsError(str(exc).removeprefix("error parsing CLI: ")) from None
    finally:
        _pending_argv.pop(settings_cls, None)


def describe_validation_error(settings_cls: type[CommonSettings], exc: ValidationError) -> str:
    """One line per bad setting: flag, variable, what was given, what is allowed."""
    lines = []
    for error in exc.errors():
        path = _setting_path(settings_cls, error["loc"]) or ("?",)
        field = ".".join(path)
        flag, env = _flag(path), _variable(settings_cls, path)
        given = error.get("input")
        lines.append(f"invalid setting {field} ({flag} / {env}): {error['msg']} (got {given!r})")
    return "; ".join(lines)


def settings_or_exit(settings_cls: type[SettingsT], argv: Sequence[str] | None = None) -> SettingsT:
    """For a service's main(): load settings or stop with one clear line and exit code 2."""
    try:
        return load_settings(settings_cls, sys.argv[1:] if argv is None else argv)
    except SettingsError as exc:
        print(f"deskpilot-{settings_cls.service_name}: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def settings_table(settings_cls: type[CommonSettings]) -> list[tuple[str, str, str, str]]:
    """(flag, variable, default, description) for every setting, nested ones included, for
    docs and `--help`."""
    rows = []
    for path, field in _leaf_fields(settings_cls):
        env = _variable(settings_cls, path)
        if path[0] in SHARED_FIELDS:
            env += f" or {ENV_PREFIX}{path[0].upper()}"
        rows.append((_flag(path), env, _show(field.default), field.description or ""))
    return rows


def _leaf_fields(
    model: type[BaseModel], parent: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], FieldInfo]]:
    """Every setting below `model`, by its path of field names; a group is not one."""
    leaves = []
    for name, field in model.model_fields.items():
        group = _group(field)
        if group is None:
            leaves.append(((*parent, name), field))
        else:
            leaves.extend(_leaf_fields(group, (*parent, name)))
    return leaves


def _group(field: FieldInfo) -> type[BaseModel] | None:
    """The nested model of a field that groups settings, or None for a plain setting."""
    annotation = field.annotation
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _setting_path(model: type[BaseModel], loc: tuple[int | str, ...]) -> tuple[str, ...]:
    """The setting an error location points at: its field names down through groups (an
    index into a list value, or a group-level error, stops the walk)."""
    path: list[str] = []
    for part in loc:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        if field is None:
            break
        path.append(str(part))
        group = _group(field)
        if group is None:
            break
        model = group
    return tuple(path)


def _flag(path: tuple[str, ...]) -> str:
    return "--" + ".".join(name.replace("_", "-") for name in path)


def _variable(settings_cls: type[CommonSettings], path: tuple[str, ...]) -> str:
    return settings_cls.env_prefix() + NESTED_ENV_DELIMITER.join(name.upper() for name in path)


def _show(default: Any) -> str:
    if default is None:
        return ""
    return str(default) if isinstance(default, Path) else repr(default)
