"""What `deskpilot up` runs on one machine: nats-server (refusing anonymous clients:
each service proves its identity, `local_auth.py`), then every component of the local
stack that is installed, in dependency order, each on its own loopback port.

Which components those are, their ports, health checks and wiring come from
`components.py`; this module adds what is particular to one local stack: the port
settings (one per component, generated from the description), the stand-in when asked
for, the sandbox user, log settings, and the notices a new user needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, create_model

from deskpilot.bus.identities import authorization
from deskpilot.cli.components import (
    COMPONENTS,
    GATEWAY,
    NATS,
    STAND_IN,
    ComponentSpec,
    Invocation,
    command_for,
    component,
    stack_order,
)
from deskpilot.cli.local_auth import LocalAuth
from deskpilot.cli.serving import Grpc, Http
from deskpilot.cli.supervisor import (
    CHILD_DEATH_SIGNAL,
    Component,
    HttpProcessComponent,
    NatsComponent,
    ProcessComponent,
)
from deskpilot.common.config import CommonSettings
from deskpilot.common.natsserver import NatsServer
from deskpilot.common.sandbox_user import sandbox_python
from deskpilot.common.security import SecuredServiceSettings

LOCAL_STACK = tuple(c for c in COMPONENTS if c.in_local_stack)


def _port_settings() -> dict[str, Any]:
    """One `--<name>-port` setting per component of the local stack."""
    return {
        c.port.setting: (
            int,
            Field(
                c.port.default,
                ge=0 if c.port.any_free else 1,
                le=65535,
                description=c.port.description,
            ),
        )
        for c in LOCAL_STACK
        if c.port is not None
    }


# A base of UpSettings (private: the settings table shows them as UpSettings').
_StackPorts = create_model("_StackPorts", __base__=CommonSettings, **_port_settings())


class UpSettings(_StackPorts):
    """Settings of the local stack."""

    service_name: ClassVar[str] = "up"

    host: str = Field("127.0.0.1", description="Address every component binds.")
    data_dir: Path = Field(Path("var"), description="Folder for NATS data and logs.")
    stand_in: bool = Field(
        False,
        description="Also run the Messages API stand-in playing the scripted demo and point the "
        "orchestrator at it: no API key needed, and no Claude either.",
    )
    stand_in_script: Path | None = Field(
        None, description="Stand-in script (JSON turns) instead of the demo; implies --stand-in."
    )
    sandbox_user: str = Field(
        "deskpilot",
        pattern=r"^[a-z_][a-z0-9_-]{0,31}$",
        description="User the sandboxes run as when the stack runs as root (created if "
        "missing; never root).",
    )
    sandbox_python: str = Field(
        "",
        description="Python the sandbox user runs the executors with; empty: `.venv-sandbox` "
        "beside this virtualenv (`make` builds it from /usr/bin/python3), else this Python.",
    )
    ready_timeout: float = Field(
        30.0, gt=0, le=600, description="Seconds each component may take to become ready."
    )
    grace_seconds: float = Field(
        10.0, ge=0, le=600, description="Seconds each component may take to stop on Ctrl-C."
    )


MISSING_KEY_NOTICE = (
    "ANTHROPIC_API_KEY is not set, so the orchestrator will refuse sessions: "
    "`export ANTHROPIC_API_KEY=sk-ant-...` (your Anthropic API key) before `deskpilot up` "
    "to use Claude, or run the scripted demo with `deskpilot up --stand-in`"
)


def uses_stand_in(settings: UpSettings) -> bool:
    """Whether the stack runs the Messages API stand-in instead of using Claude."""
    return settings.stand_in or settings.stand_in_script is not None


def api_key_notice(settings: UpSettings, environ: Mapping[str, str]) -> str | None:
    """What to tell a user whose sessions would be refused for want of a key."""
    if uses_stand_in(settings) or environ.get("ANTHROPIC_API_KEY"):
        return None
    return MISSING_KEY_NOTICE


def build_stack(settings: UpSettings, auth: LocalAuth, *, text_logs: bool) -> list[Component]:
    """nats-server plus each installed component, wired to what it depends on; `auth`: the
    stack's identities (`local_auth.prepare`)."""
    nats = NatsComponent(
        NatsServer(
            settings.data_dir / "nats",
            port=settings.nats_port,
            host=settings.host,
            die_with_parent=CHILD_DEATH_SIGNAL,
            authorization=authorization(auth.nats_users()),
        )
    )
    chosen = _chosen(settings)
    endpoints = {c.name: _endpoint(settings, c) for c in chosen if c.name != NATS}
    log_env = {
        "DESKPILOT_LOG_LEVEL": settings.log_level,
        "DESKPILOT_LOG_FORMAT": "text" if text_logs else "json",
    }

    def invocation(name: str) -> Invocation:
        # Called as the component starts: nats-server's port is known once it runs.
        addresses = {**endpoints, NATS: nats.endpoint}
        command = command_for(name, addresses, _extra_flags(name, settings))
        env = {**log_env, **command.env, **_auth_env(name, auth), **auth.nats_env(name)}
        return Invocation(command.program, command.args, env)

    components: list[Component] = [nats]
    for spec in chosen:
        if spec.name == NATS:
            continue
        kind, health = _supervised(spec)
        components.append(
            kind(
                name=spec.name,
                command=lambda name=spec.name: invocation(name),
                address=endpoints[spec.name],
                depends_on=tuple(d for d in spec.uses if d in endpoints or d == NATS),
                **health,
            )
        )
    return components


def gateway_url(settings: UpSettings, components: list[Component]) -> str | None:
    """Where the stack's web page is, when it runs the gateway."""
    for item in components:
        if item.name == GATEWAY:
            return f"http://{_endpoint(settings, component(GATEWAY))}"
    return None


def missing_services() -> list[str]:
    """Services not installed yet, so `deskpilot up` can say what it is not running."""
    return [
        c.name for c in LOCAL_STACK if c.name != NATS and not c.on_request and not c.installed()
    ]


def _chosen(settings: UpSettings) -> list[ComponentSpec]:
    """What this stack runs, in the order to start it: nats-server (which says so itself
    when it is missing), every installed component (the stand-in only when asked for),
    and of those only the ones whose dependencies run too."""
    chosen: list[ComponentSpec] = []
    for name in stack_order([c.name for c in LOCAL_STACK]):
        spec = component(name)
        if name != NATS and not spec.installed():
            continue
        if spec.on_request and not (name == STAND_IN and uses_stand_in(settings)):
            continue
        if all(d in {c.name for c in chosen} for d in spec.depends_on):
            chosen.append(spec)
    return chosen


def _supervised(spec: ComponentSpec) -> tuple[type[ProcessComponent], dict[str, str]]:
    """The supervisor's kind of component for `spec`, and its health check's argument."""
    if isinstance(spec.serves, Http):
        return HttpProcessComponent, {"health_path": spec.serves.health_path}
    if isinstance(spec.serves, Grpc):
        return ProcessComponent, {"health_service": spec.serves.health_service}
    raise ValueError(f"{spec.name} serves {spec.serves}, which `deskpilot up` cannot check")


def _extra_flags(name: str, settings: UpSettings) -> list[str]:
    """Stack settings passed on to one component."""
    if name == "orchestrator":
        return [
            "--sandbox.local.user", settings.sandbox_user,
            "--sandbox.local.python", settings.sandbox_python or sandbox_python(),
        ]  # fmt: skip
    if name == STAND_IN and settings.stand_in_script is not None:
        return ["--script", str(settings.stand_in_script)]
    return []


def _auth_env(name: str, auth: LocalAuth) -> dict[str, str]:
    """Where a component that checks callers' tokens finds its key and token files
    (`deskpilot up` writes them before it starts anything): paths only."""
    spec = component(name)
    if not spec.settings or not issubclass(spec.settings_class(), SecuredServiceSettings):
        return {}
    return auth.service_env(name)


def _endpoint(settings: UpSettings, spec: ComponentSpec) -> str:
    assert spec.port is not None, f"{spec.name} has no port in the local stack"
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    return f"{host}:{getattr(settings, spec.port.setting)}"
