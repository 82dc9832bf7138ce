"""The stack, described once: every deskpilot component that runs as a process of its own,
how to run it, what it serves (hence how it is reached and how to tell it is ready), its
default port and the `deskpilot up` setting for it, what it depends on, and which of its
flags (or, for a library reading the environment, which variable) takes each
dependency's address.

`deskpilot up` (`stack.py`), the end-to-end and restart tests and the benchmarks start
their processes from it: `command_for` gives a component's command line and environment
for given addresses, `stack_order` the order to start them in, `serving.until_serving` the
health check, and `launch.start_component` all three for one child process. Adding a
service is one entry in `COMPONENTS` (and its package); `tests/unit/test_cli_components.py`
checks each entry against the code it describes. Compose files and Kubernetes manifests
are to be generated from, or checked against, this description too.

Not in it: the sandbox (`python -m deskpilot.sandbox`), which the orchestrator's sandbox
provider starts once per session and which reports ready with a line, not a port.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from deskpilot.cli.serving import Grpc, Http, Nats, Serves, split_endpoint
from deskpilot.common.config import CommonSettings
from deskpilot.common.natsserver import find_nats_server

STAND_IN_KEY = "stand-in"  # the stand-in wants some key, as the real API does


@dataclass(frozen=True)
class Port:
    """A component's default port in the local stack and the `deskpilot up` setting that
    changes it (`--<setting>`); `any_free`: 0 is allowed and lets it choose."""

    setting: str
    default: int
    description: str
    any_free: bool = False


@dataclass(frozen=True)
class Wire:
    """How a component learns where one dependency listens: the dependency's URL goes in
    `flag`, one of the component's own settings, or in `env` for a library that reads the
    environment (the Anthropic SDK). An `optional` dependency may be absent (the
    stand-in); `with_env` is set alongside whenever it is present."""

    dependency: str
    flag: str = ""
    env: str = ""
    optional: bool = False
    with_env: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ComponentSpec:
    """One component. It runs as `python -m <module>`, or as `program` (nats-server,
    which `NatsServer` starts with its own arguments)."""

    name: str
    serves: Serves
    module: str = ""
    program: str = ""
    settings: str = ""  # "module:Class", the settings its flags set
    port: Port | None = None  # None: its port is chosen per sandbox, not by the stack
    wires: tuple[Wire, ...] = ()
    in_local_stack: bool = True  # False: it runs inside each sandbox instead
    on_request: bool = False  # `deskpilot up` runs it only when asked (--stand-in)
    planned: bool = False  # not written yet, so its package is absent

    @property
    def depends_on(self) -> tuple[str, ...]:
        """What it cannot run without."""
        return tuple(w.dependency for w in self.wires if not w.optional)

    @property
    def uses(self) -> tuple[str, ...]:
        """Everything it is wired to, optional dependencies included: it starts after them."""
        return tuple(w.dependency for w in self.wires)

    def installed(self) -> bool:
        """Whether it can run here: its program is found, or `python -m` finds its module."""
        if self.program:  # nats-server, looked for where NatsServer looks
            try:
                find_nats_server()
            except FileNotFoundError:
                return False
            return True
        return _runnable_module(self.module)

    def settings_class(self) -> type[CommonSettings]:
        """The settings class its flags belong to (imports its package)."""
        module, _, name = self.settings.partition(":")
        return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class Invocation:
    """A command line and the variables it needs beyond the caller's environment."""

    program: tuple[str, ...]
    args: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)

    @property
    def argv(self) -> list[str]:
        return [*self.program, *self.args]


NATS = "nats"
STAND_IN = "standin"
GATEWAY = "gateway"

_NATS_URL = Wire(NATS, flag="--nats-url")

COMPONENTS: tuple[ComponentSpec, ...] = (
    ComponentSpec(
        NATS,
        Nats(),
        program="nats-server",
        port=Port("nats_port", 4222, "NATS client port (0: any free).", any_free=True),
    ),
    ComponentSpec(
        "display",
        Grpc("deskpilot.v1.Display"),
        module="deskpilot.display",
        settings="deskpilot.display.settings:DisplaySettings",
        in_local_stack=False,
    ),
    ComponentSpec(
        "shell",
        Grpc("deskpilot.v1.Shell"),
        module="deskpilot.shell",
        settings="deskpilot.shell.settings:ShellSettings",
        in_local_stack=False,
    ),
    ComponentSpec(
        "safety",
        Grpc("deskpilot.v1.Safety"),
        module="deskpilot.safety",
        settings="deskpilot.safety.settings:SafetySettings",
        port=Port("safety_port", 50053, "Safety gate gRPC port."),
    ),
    ComponentSpec(
        "orchestrator",
        Grpc("deskpilot.v1.Orchestrator"),
        module="deskpilot.orchestrator",
        settings="deskpilot.orchestrator.settings:OrchestratorSettings",
        port=Port("orchestrator_port", 50051, "Orchestrator gRPC port."),
        wires=(
            _NATS_URL,
            Wire("safety", flag="--safety-address"),
            Wire(
                STAND_IN,
                env="ANTHROPIC_BASE_URL",
                optional=True,
                with_env=(("ANTHROPIC_API_KEY", STAND_IN_KEY),),
            ),
        ),
    ),
    ComponentSpec(
        GATEWAY,
        Http("/healthz"),
        module="deskpilot.gateway",
        settings="deskpilot.gateway.settings:GatewaySettings",
        port=Port("gateway_port", 8080, "Gateway HTTP port: the web page and its websockets."),
        wires=(_NATS_URL, Wire("orchestrator", flag="--orchestrator-address")),
    ),
    ComponentSpec(
        STAND_IN,
        Http("/health"),
        module="deskpilot.cli.demo",  # the stand-in playing the scripted demo
        settings="deskpilot.standin.settings:StandInSettings",
        port=Port("stand_in_port", 8765, "Stand-in HTTP port."),
        on_request=True,
    ),
)

_BY_NAME = {c.name: c for c in COMPONENTS}


def component(name: str) -> ComponentSpec:
    """The description of `name`; KeyError naming the known ones otherwise."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"no component {name!r} (known: {', '.join(_BY_NAME)})") from None


def command_for(name: str, addresses: Mapping[str, str], extra: Sequence[str] = ()) -> Invocation:
    """How to run `name` listening at `addresses[name]` (`host:port`) and wired to each
    dependency at its address there; `extra` flags follow. ValueError when a dependency it
    cannot do without has no address."""
    spec = component(name)
    if not spec.module:
        raise ValueError(f"{name} runs as {spec.program}, which its own launcher starts")
    host, port = split_endpoint(addresses[name])
    args = ["--host", host, "--port", str(port)]
    env: dict[str, str] = {}
    for wire in spec.wires:
        endpoint = addresses.get(wire.dependency)
        if endpoint is None:
            if wire.optional:
                continue
            raise ValueError(f"{name} needs the address of {wire.dependency}")
        url = component(wire.dependency).serves.url(endpoint)
        if wire.flag:
            args += [wire.flag, url]
        else:
            env[wire.env] = url
        env.update(wire.with_env)
    return Invocation((sys.executable, "-m", spec.module), (*args, *extra), env)


def stack_order(names: Iterable[str] | None = None) -> list[str]:
    """`names` (default: every component) in an order that starts each after what it is
    wired to; dependencies not among `names` are left out."""
    chosen = list(names) if names is not None else list(_BY_NAME)
    return dependency_order(chosen, lambda n: [d for d in component(n).uses if d in chosen])


def dependency_order(
    names: Iterable[str], dependencies: Callable[[str], Iterable[str]]
) -> list[str]:
    """`names`, each after its `dependencies(name)`, otherwise in the order given.
    ValueError on a dependency not among `names`, or a cycle."""
    known = list(names)
    ordered: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in ordered:
            return
        if name in visiting:
            raise ValueError(f"dependency cycle through {name}")
        visiting.add(name)
        for dependency in dependencies(name):
            if dependency not in known:
                raise ValueError(f"{name} depends on unknown component {dependency}")
            visit(dependency)
        visiting.discard(name)
        ordered.append(name)

    for name in known:
        visit(name)
    return ordered


def _runnable_module(module: str) -> bool:
    """Whether `python -m <module>` would find something to run, without importing it."""
    try:
        spec = importlib.util.find_spec(module)
        if spec is None:
            return False
        if spec.submodule_search_locations is None:  # a plain module
            return True
        return importlib.util.find_spec(f"{module}.__main__") is not None
    except ModuleNotFoundError:
        return False
