"""What the model's shell inside a real local sandbox can see and be: none of the
orchestrator's secrets, and never root."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest

from deskpilot.common.errors import Unavailable
from tests.fixtures.sandboxes import local_sandbox, run_bash

pytestmark = [pytest.mark.x11, pytest.mark.timeout(180)]


async def test_the_models_shell_sees_none_of_the_orchestrators_environment(
    sandbox_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    planted = {
        "ANTHROPIC_API_KEY": f"sk-ant-planted-{secrets.token_hex(8)}",
        "ANTHROPIC_BASE_URL": f"http://planted-{secrets.token_hex(4)}.invalid",
        "AWS_SECRET_ACCESS_KEY": f"planted-{secrets.token_hex(8)}",
        "DESKPILOT_ORCHESTRATOR_PLANTED": f"planted-{secrets.token_hex(8)}",
    }
    for name, value in planted.items():
        monkeypatch.setenv(name, value)  # the provider runs in the orchestrator's process
    async with local_sandbox(sandbox_dir) as (_, client):
        shown = await run_bash(client, "env")
        # Every process the model can read the environment of: its own, the executors',
        # the desktop's and the X and VNC servers'.
        others = await run_bash(client, "cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n'")
    assert not shown.is_error, shown.text
    assert "HOME=" in shown.text and "DISPLAY=" in shown.text  # what the desktop needs
    for seen in (shown.text, others.text):
        for name, value in planted.items():
            assert name not in seen and value not in seen
        assert "DESKPILOT_" not in seen


async def test_the_models_shell_is_never_root_whatever_python_the_stack_runs(
    sandbox_dir: Path,
) -> None:
    # The orchestrator (this process) runs as root, with this machine's Python, which may
    # live where the sandbox user cannot go (a pyenv under /root).
    async with local_sandbox(sandbox_dir) as (_, client):
        who = await run_bash(client, "id -u; id -un")
    uid, name = who.text.splitlines()
    assert int(uid) != 0 and name != "root", who.text
    if os.geteuid() == 0:
        assert name == "deskpilot"


@pytest.mark.skipif(os.geteuid() != 0, reason="only root could run a sandbox as root")
async def test_no_provider_setting_runs_a_sandbox_as_root(sandbox_dir: Path) -> None:
    with pytest.raises(Unavailable, match=r"invalid setting user \(--user"):
        async with local_sandbox(sandbox_dir, user=""):
            pass
