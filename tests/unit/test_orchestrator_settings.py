"""The orchestrator's sandbox settings: a closed set of providers, one group of settings
per provider, and a provider missing what it needs stops the service with one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from deskpilot.common.config import SettingsError, load_settings
from deskpilot.common.sandbox_credential import write_credential_file
from deskpilot.orchestrator.settings import OrchestratorSettings


def test_each_provider_reads_its_own_group(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    credential = tmp_path / "credential"
    write_credential_file(credential, "s3cret")
    monkeypatch.setenv("DESKPILOT_ORCHESTRATOR_SANDBOX__LOCAL__POOL_SIZE", "3")
    monkeypatch.setenv("DESKPILOT_ORCHESTRATOR_SANDBOX__EXISTING__SHELL_ADDRESS", "10.0.0.2:50062")
    monkeypatch.setenv("DESKPILOT_ORCHESTRATOR_SANDBOX__EXISTING__CREDENTIAL_FILE", str(credential))
    settings = load_settings(
        OrchestratorSettings,
        ["--sandbox.provider", "existing", "--sandbox.existing.display-address", "10.0.0.2:50061"],
    )
    assert settings.sandbox.provider == "existing"
    assert settings.sandbox.existing.display_address == "10.0.0.2:50061"
    assert settings.sandbox.existing.shell_address == "10.0.0.2:50062"
    assert settings.sandbox.local.pool_size == 3
    assert load_settings(OrchestratorSettings, []).sandbox.provider == "local"


def test_an_unknown_provider_is_refused_by_name() -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(OrchestratorSettings, ["--sandbox.provider", "nomad"])
    assert str(info.value) == (
        "invalid setting sandbox.provider (--sandbox.provider / "
        "DESKPILOT_ORCHESTRATOR_SANDBOX__PROVIDER): Input should be 'local', 'existing' or "
        "'kubernetes' (got 'nomad')"
    )


def test_the_existing_provider_needs_both_executor_addresses() -> None:
    argv = ["--sandbox.provider", "existing", "--sandbox.existing.display-address", "h:1"]
    with pytest.raises(SettingsError) as info:
        load_settings(OrchestratorSettings, argv)
    message = str(info.value)
    assert (
        "provider `existing` needs --sandbox.existing.shell-address and "
        "--sandbox.existing.credential-file"
    ) in message
    assert "display-address" not in message.split("needs")[1]
    assert "\n" not in message


def test_the_existing_provider_needs_a_readable_credential(tmp_path: Path) -> None:
    argv = [
        "--sandbox.provider", "existing", "--sandbox.existing.display-address", "h:1",
        "--sandbox.existing.shell-address", "h:2",
        "--sandbox.existing.credential-file", str(tmp_path / "absent"),
    ]  # fmt: skip
    with pytest.raises(SettingsError) as info:
        load_settings(OrchestratorSettings, argv)
    assert f"cannot read the credential file {tmp_path / 'absent'}" in str(info.value)
    (tmp_path / "empty").write_text("\n")
    argv[-1] = str(tmp_path / "empty")
    with pytest.raises(SettingsError, match="holds no credential"):
        load_settings(OrchestratorSettings, argv)
