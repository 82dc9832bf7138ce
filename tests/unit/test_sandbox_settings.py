"""The sandbox's settings refuse what its servers would misread."""

from __future__ import annotations

import pytest

from deskpilot.common.config import SettingsError, load_settings
from deskpilot.sandbox.settings import SandboxSettings


def test_the_vnc_host_must_be_one_address_not_a_name() -> None:
    with pytest.raises(SettingsError, match=r"vnc_host \(--vnc-host.*'localhost'"):
        load_settings(SandboxSettings, ["--vnc-host", "localhost"])
    assert load_settings(SandboxSettings, ["--vnc-host", "::1"]).vnc_host == "::1"
