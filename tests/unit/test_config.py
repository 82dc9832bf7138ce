"""Settings come from flags, service variables, shared variables and defaults, in that
order; a bad value is one clear line naming the setting."""

from __future__ import annotations

import subprocess
import sys
from typing import ClassVar, Literal

import pytest
from pydantic import BaseModel, Field

from deskpilot.common.config import (
    NatsClientSettings,
    ServiceSettings,
    SettingsError,
    load_settings,
    settings_table,
)


class DemoSettings(ServiceSettings, NatsClientSettings):
    service_name: ClassVar[str] = "demo"
    depth: int = Field(3, ge=1, le=10, description="How deep.")


class PoolSettings(BaseModel):
    size: int = Field(1, ge=0, le=20, description="Warm ones.")
    kind: Literal["small", "large"] = Field("small", description="Which kind.")


class AreaSettings(BaseModel):
    pool: PoolSettings = Field(default_factory=PoolSettings)
    name: str = Field("a", description="Its name.")


class GroupedSettings(ServiceSettings):
    """Settings of one area grouped in a nested model, as the orchestrator's sandbox ones."""

    service_name: ClassVar[str] = "grouped"
    area: AreaSettings = Field(default_factory=AreaSettings)


def test_precedence_flag_over_service_variable_over_shared(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DESKPILOT_LOG_LEVEL", "warning")
    monkeypatch.setenv("DESKPILOT_DEMO_LOG_LEVEL", "error")
    monkeypatch.setenv("DESKPILOT_DEMO_DEPTH", "4")
    assert load_settings(DemoSettings).log_level == "error"
    assert load_settings(DemoSettings, ["--log-level", "debug"]).log_level == "debug"
    assert load_settings(DemoSettings).depth == 4
    monkeypatch.delenv("DESKPILOT_DEMO_LOG_LEVEL")
    assert load_settings(DemoSettings).log_level == "warning"


def test_ports_are_never_shared(monkeypatch: pytest.MonkeyPatch) -> None:
    # One environment configures a whole stack; a global port would make services clash.
    monkeypatch.setenv("DESKPILOT_PORT", "5555")
    monkeypatch.setenv("DESKPILOT_DEPTH", "9")
    settings = load_settings(DemoSettings)
    assert settings.port == 0
    assert settings.depth == 3


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--port", "70000"], "invalid setting port (--port / DESKPILOT_DEMO_PORT)"),
        (["--depth", "0"], "greater than or equal to 1"),
        (["--log-format", "xml"], "'auto', 'json' or 'text'"),
        (["--nats-url", "http://x"], "each URL must look like nats://host:port"),
    ],
)
def test_bad_value_names_the_setting(argv: list[str], expected: str) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(DemoSettings, argv)
    assert expected in str(info.value)
    assert "\n" not in str(info.value)


class FlagSettings(ServiceSettings):
    service_name: ClassVar[str] = "flags"
    verbose: bool = Field(False, description="Say more.")


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--verbose=false"], "argument --verbose/--no-verbose: ignored explicit argument"),
        (["--no-such-flag"], "unrecognized arguments: --no-such-flag"),
    ],
)
def test_a_flag_that_does_not_parse_is_one_line_not_a_usage_page(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(FlagSettings, argv)
    assert expected in str(info.value) and "\n" not in str(info.value)
    assert capsys.readouterr().err == ""  # argparse printed no usage of its own


def test_a_service_with_a_bad_setting_stops_with_one_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tests.helpers.slow_service", "--grace-seconds", "-1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("deskpilot-slow: invalid setting grace_seconds")
    assert "DESKPILOT_SLOW_GRACE_SECONDS" in lines[0]


def test_settings_table_lists_every_field() -> None:
    rows = {flag: env for flag, env, _default, _doc in settings_table(DemoSettings)}
    assert rows["--depth"] == "DESKPILOT_DEMO_DEPTH"
    assert rows["--nats-url"] == "DESKPILOT_DEMO_NATS_URL or DESKPILOT_NATS_URL"
    assert set(rows) == {"--" + name.replace("_", "-") for name in DemoSettings.model_fields}


def test_a_nested_setting_has_a_dotted_flag_and_a_double_underscore_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DESKPILOT_GROUPED_AREA__POOL__SIZE", "4")
    monkeypatch.setenv("DESKPILOT_GROUPED_AREA__NAME", "from-env")
    settings = load_settings(GroupedSettings, ["--area.pool.kind", "large"])
    assert settings.area.pool.size == 4
    assert settings.area.pool.kind == "large"
    assert settings.area.name == "from-env"
    # A flag wins over the variable; values given in code merge with the rest of the group.
    flagged = load_settings(GroupedSettings, ["--area.pool.size", "2"])
    assert flagged.area.pool.size == 2
    merged = load_settings(GroupedSettings, None, area={"pool": {"kind": "large"}})
    assert (merged.area.pool.size, merged.area.pool.kind) == (4, "large")


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["--area.pool.size", "30"],
            "invalid setting area.pool.size (--area.pool.size / DESKPILOT_GROUPED_AREA__POOL__SIZE)"
            ": Input should be less than or equal to 20 (got '30')",
        ),
        (
            ["--area.pool.kind", "huge"],
            "invalid setting area.pool.kind (--area.pool.kind / DESKPILOT_GROUPED_AREA__POOL__KIND)"
            ": Input should be 'small' or 'large' (got 'huge')",
        ),
    ],
)
def test_a_bad_nested_value_names_the_whole_path(argv: list[str], expected: str) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(GroupedSettings, argv)
    assert str(info.value) == expected


def test_settings_table_lists_nested_settings_not_their_groups() -> None:
    rows = {flag: (env, default) for flag, env, default, _doc in settings_table(GroupedSettings)}
    assert rows["--area.pool.size"] == ("DESKPILOT_GROUPED_AREA__POOL__SIZE", "1")
    assert rows["--area.pool.kind"] == ("DESKPILOT_GROUPED_AREA__POOL__KIND", "'small'")
    assert rows["--area.name"] == ("DESKPILOT_GROUPED_AREA__NAME", "'a'")
    assert "--area" not in rows and "--area.pool" not in rows
