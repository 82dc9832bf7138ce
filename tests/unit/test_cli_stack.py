"""What `deskpilot up` wires together: the orchestrator finds the stack's safety gate and
the stand-in (when asked for), a missing API key is explained before any session fails,
and a sandbox user that cannot run the executors stops the stack before it starts."""

from __future__ import annotations

import atexit
import os
import pwd
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from deskpilot.cli.local_auth import prepare
from deskpilot.cli.sandbox_check import sandbox_problem, shared_user_notice
from deskpilot.cli.stack import (
    MISSING_KEY_NOTICE,
    UpSettings,
    api_key_notice,
    build_stack,
)
from deskpilot.cli.supervisor import HttpProcessComponent, ProcessComponent
from deskpilot.common.config import SettingsError, load_settings
from deskpilot.common.sandbox_user import sandbox_python
from deskpilot.orchestrator.settings import OrchestratorSettings


def _components(*flags: str) -> dict[str, ProcessComponent]:
    data_dir = tempfile.mkdtemp(prefix="deskpilot-up-")
    atexit.register(shutil.rmtree, data_dir, ignore_errors=True)
    settings = load_settings(UpSettings, ["--data-dir", data_dir, *flags])
    built = build_stack(settings, prepare(settings.data_dir), text_logs=False)
    return {c.name: c for c in built if isinstance(c, ProcessComponent)}


def _env(component: ProcessComponent) -> dict[str, str]:
    return {k: v for k, v in component.env.items() if isinstance(v, str)}


def test_the_orchestrator_is_pointed_at_the_stacks_safety_gate_and_sandbox_user() -> None:
    orchestrator = _components(
        "--safety-port", "51000", "--sandbox-user", "sbx", "--sandbox-python", "/opt/py/bin/python"
    )["orchestrator"]  # fmt: skip
    argv = list(orchestrator.argv)
    assert argv[argv.index("--safety-address") + 1] == "127.0.0.1:51000"
    assert argv[argv.index("--sandbox.local.user") + 1] == "sbx"
    # ... in flags the orchestrator understands (its settings change names now and then).
    flags = argv[argv.index("deskpilot.orchestrator") + 1 :]
    understood = load_settings(OrchestratorSettings, flags)
    assert understood.safety_address == "127.0.0.1:51000"
    assert understood.sandbox.local.user == "sbx"
    assert understood.sandbox.local.python == "/opt/py/bin/python"
    assert "ANTHROPIC_BASE_URL" not in _env(orchestrator)
    assert "standin" not in orchestrator.depends_on


def test_with_the_stand_in_the_orchestrator_talks_to_it_and_waits_for_it() -> None:
    components = _components("--stand-in", "--stand-in-port", "51001")
    stand_in = components["standin"]
    assert isinstance(stand_in, HttpProcessComponent) and stand_in.address == "127.0.0.1:51001"
    assert "--script" not in stand_in.argv
    orchestrator = components["orchestrator"]
    assert _env(orchestrator)["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:51001"
    assert _env(orchestrator)["ANTHROPIC_API_KEY"] == "stand-in"
    assert "standin" in orchestrator.depends_on
    scripted = _components("--stand-in-script", "turns.json")["standin"]  # implies --stand-in
    assert list(scripted.argv)[-2:] == ["--script", "turns.json"]


def test_a_missing_api_key_is_explained_unless_the_stand_in_is_used() -> None:
    plain = load_settings(UpSettings, [])
    assert api_key_notice(plain, {}) == MISSING_KEY_NOTICE
    assert "ANTHROPIC_API_KEY" in MISSING_KEY_NOTICE
    assert "deskpilot up --stand-in" in MISSING_KEY_NOTICE
    assert api_key_notice(plain, {"ANTHROPIC_API_KEY": "sk-ant-x"}) is None
    assert api_key_notice(load_settings(UpSettings, ["--stand-in"]), {}) is None


def test_there_is_no_sandbox_user_that_keeps_root() -> None:
    with pytest.raises(SettingsError, match="sandbox_user"):
        load_settings(UpSettings, ["--sandbox-user", ""])


@pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox user applies only to root")
def test_a_python_the_sandbox_user_cannot_run_stops_the_stack_with_the_fix() -> None:
    # Not under tmp_path: pytest's own base folder is closed to other users.
    with tempfile.TemporaryDirectory() as folder:
        Path(folder).chmod(0o755)
        closed = Path(folder) / "closed"
        (closed / "bin").mkdir(parents=True)
        python = closed / "bin" / "python3"
        python.symlink_to(sys.executable)
        closed.chmod(0o700)
        problem = sandbox_problem(load_settings(UpSettings, ["--sandbox-python", str(python)]))
        assert problem is not None
        assert "never run as root" in problem and f"{closed} is closed to it" in problem
        assert "make sandbox-venv" in problem
        closed.chmod(0o755)  # now it reaches this Python, which has no executors for it
        problem = sandbox_problem(load_settings(UpSettings, ["--sandbox-python", str(python)]))
        assert problem is not None and "/root is closed to it" in problem


@pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox user applies only to root")
def test_the_sandbox_virtualenv_is_found_and_runs_as_the_sandbox_user() -> None:
    python = sandbox_python()
    assert python.endswith(".venv-sandbox/bin/python"), "run `make sandbox-venv`"
    assert sandbox_problem(load_settings(UpSettings, [])) is None


def test_a_stack_not_run_as_root_warns_that_its_sandboxes_share_its_user() -> None:
    if os.geteuid() != 0:
        notice = shared_user_notice()
    else:
        assert shared_user_notice() is None
        notice = _as_user("nobody", shared_user_notice)
    assert notice is not None and "API key included" in notice and "Run as root" in notice


def _as_user(name: str, call: Callable[[], str | None]) -> str | None:
    """`call()` in a child of this process that has become user `name`."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop root, answer, leave without running pytest's exit code
        try:
            os.close(read_end)
            os.setuid(pwd.getpwnam(name).pw_uid)
            os.write(write_end, (call() or "").encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as answer:
        text = answer.read().decode()
    os.waitpid(pid, 0)
    return text or None
