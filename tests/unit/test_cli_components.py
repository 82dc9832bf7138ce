"""The stack's description agrees with the code it describes: every dependency is a
component, nothing depends on itself through others, every component can run here (or is
marked planned), and every flag it is given, its own address and each dependency's, is a
real setting of that component, parsed by its own settings class."""

from __future__ import annotations

import pytest

from deskpilot.cli.components import (
    COMPONENTS,
    ComponentSpec,
    command_for,
    component,
    dependency_order,
    stack_order,
)
from deskpilot.cli.stack import LOCAL_STACK, UpSettings
from deskpilot.common.config import CommonSettings, load_settings

RUNNABLE = [c for c in COMPONENTS if c.module and c.installed()]


def test_every_dependency_is_a_component_started_before_its_dependents() -> None:
    names = [c.name for c in COMPONENTS]
    assert len(set(names)) == len(names), "two components share a name"
    order = stack_order()
    assert sorted(order) == sorted(names)
    for spec in COMPONENTS:
        for dependency in spec.uses:
            assert dependency in names, f"{spec.name} is wired to unknown {dependency}"
            assert order.index(dependency) < order.index(spec.name)
            assert component(dependency).port is not None or not spec.in_local_stack


def test_a_cycle_or_an_unknown_dependency_is_named() -> None:
    cycle = {"a": ["b"], "b": ["c"], "c": ["a"]}
    with pytest.raises(ValueError, match="dependency cycle through a"):
        dependency_order(cycle, cycle.__getitem__)
    with pytest.raises(ValueError, match="b depends on unknown component d"):
        dependency_order(["a", "b"], {"a": [], "b": ["d"]}.__getitem__)


def test_every_component_runs_here_unless_it_is_planned() -> None:
    for spec in COMPONENTS:
        assert bool(spec.module) != bool(spec.program), f"{spec.name}: a module or a program"
        # A planned component that exists now should lose the mark.
        assert spec.installed() != spec.planned, spec.name


@pytest.mark.parametrize("spec", RUNNABLE, ids=lambda c: c.name)
def test_each_flag_a_component_is_given_is_one_of_its_settings(spec: ComponentSpec) -> None:
    # Every dependency, optional ones too, at an address of its own.
    addresses = {n: f"10.0.0.{i}:{5000 + i}" for i, n in enumerate((spec.name, *spec.uses), 1)}
    invocation = command_for(spec.name, addresses)
    settings_cls = spec.settings_class()
    assert settings_cls.service_name == spec.name
    try:
        settings = load_settings(settings_cls, list(invocation.args))
    except SystemExit:  # argparse has said which flag it does not know
        pytest.fail(f"{spec.name} does not understand {list(invocation.args)}")
    assert (settings.host, settings.port) == ("10.0.0.1", 5001)
    for wire in spec.wires:
        url = component(wire.dependency).serves.url(addresses[wire.dependency])
        if wire.flag:
            assert _setting(settings, wire.flag) == url, wire
        else:  # a library's variable; deskpilot settings go by flag, checked above
            assert not wire.env.startswith("DESKPILOT_"), wire
            assert invocation.env[wire.env] == url, wire


def test_a_dependency_that_cannot_be_done_without_must_have_an_address() -> None:
    with pytest.raises(ValueError, match="orchestrator needs the address of safety"):
        command_for("orchestrator", {"orchestrator": "127.0.0.1:1", "nats": "127.0.0.1:2"})
    alone = command_for(  # the stand-in is optional: without it, the real API
        "orchestrator",
        {"orchestrator": "127.0.0.1:1", "nats": "127.0.0.1:2", "safety": "127.0.0.1:3"},
    )
    assert "ANTHROPIC_BASE_URL" not in alone.env


def test_every_component_of_the_local_stack_has_its_own_port_setting() -> None:
    ported = [c for c in LOCAL_STACK if c.port is not None]
    assert {c.name for c in ported} == {c.name for c in LOCAL_STACK}
    defaults = [c.port.default for c in ported]
    assert len(set(defaults)) == len(defaults), "two components share a default port"
    flags = [arg for i, c in enumerate(ported, 1) for arg in (_flag(c), str(20000 + i))]
    settings = load_settings(UpSettings, flags)
    for i, spec in enumerate(ported, 1):
        assert getattr(settings, spec.port.setting) == 20000 + i


def _flag(spec: ComponentSpec) -> str:
    assert spec.port is not None
    return "--" + spec.port.setting.replace("_", "-")


def _setting(settings: CommonSettings, flag: str) -> object:
    """The value of the setting `--a.b-c` names: settings.a.b_c."""
    value: object = settings
    for name in flag.removeprefix("--").split("."):
        value = getattr(value, name.replace("-", "_"))
    return value
