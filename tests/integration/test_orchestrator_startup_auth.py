"""An orchestrator process refuses to start without what it needs to check its callers
and to be let in by the safety gate, or to keep sandboxes' secrets sealed: one line each,
no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.fixtures.auth import test_auth


def _start(*flags: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESKPILOT_")}
    return subprocess.run(
        [sys.executable, "-m", "deskpilot.orchestrator", "--port", "0", *flags],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_without_a_verification_key_it_refuses_to_start() -> None:
    run = _start()
    assert (run.returncode, run.stderr) == (
        2,
        "deskpilot-orchestrator: no key to verify callers' tokens: set "
        "--auth.public-key-file / DESKPILOT_ORCHESTRATOR_AUTH__PUBLIC_KEY_FILE to the stack's "
        "public key (`deskpilot up` writes one)\n",
    )


def test_without_a_token_for_the_safety_gate_it_refuses_to_start(tmp_path: Path) -> None:
    key = ["--auth.public-key-file", str(test_auth().public_key_file)]
    run = _start(*key)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert run.stderr.endswith(
        "deskpilot-orchestrator: no token for the safety gate: set --auth.token-file / "
        "DESKPILOT_ORCHESTRATOR_AUTH__TOKEN_FILE to a token of role orchestrator "
        "(`deskpilot up` writes one)\n"
    )
    missing = tmp_path / "orchestrator.token"
    run = _start(*key, "--auth.token-file", str(missing))
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert run.stderr.endswith(
        f"deskpilot-orchestrator: cannot read the token file {missing}: No such file or directory\n"
    )


def test_without_a_key_for_sandboxes_secrets_it_refuses_to_start(tmp_path: Path) -> None:
    auth = test_auth()
    token = auth.token_file(auth.orchestrator_token, "orchestrator-startup")
    flags = ["--auth.public-key-file", str(auth.public_key_file), "--auth.token-file", str(token)]
    run = _start(*flags)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert run.stderr.endswith(
        "deskpilot-orchestrator: no key to seal sandboxes' secrets with: set "
        "--auth.secrets-key-file / DESKPILOT_ORCHESTRATOR_AUTH__SECRETS_KEY_FILE to a secret "
        "key shared by every replica (`deskpilot up` makes one)\n"
    )
    short = tmp_path / "secrets.key"
    short.write_text("c2hvcnQ=\n")  # "short": 5 bytes, not 32
    run = _start(*flags, "--auth.secrets-key-file", str(short))
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert run.stderr.endswith(
        f"deskpilot-orchestrator: {short} holds 5 bytes; a secret key has 32\n"
    )
