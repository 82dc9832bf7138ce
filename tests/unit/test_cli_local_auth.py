"""The local stack's identities, as `deskpilot up` prepares them: a key pair kept across
starts, fresh tokens only their owner can read, and services pointed at the files in
settings they understand."""

from __future__ import annotations

from pathlib import Path

import pytest

from deskpilot.bus.identities import BusRole
from deskpilot.cli import local_auth
from deskpilot.cli.stack import UpSettings, build_stack
from deskpilot.cli.supervisor import ProcessComponent
from deskpilot.common.config import load_settings
from deskpilot.common.identity import Role
from deskpilot.common.keys import load_public_key
from deskpilot.common.tokens import TokenVerifier
from deskpilot.orchestrator.settings import OrchestratorSettings
from deskpilot.safety.settings import SafetySettings


def _verify(auth: local_auth.LocalAuth, token_file: Path):
    verifier = TokenVerifier(load_public_key(auth.public_key_file))
    return verifier.verify(token_file.read_text())


def test_up_makes_a_key_pair_and_tokens_only_their_owner_reads(tmp_path: Path) -> None:
    auth = local_auth.prepare(tmp_path / "var", admin="ana")
    assert auth.folder.stat().st_mode & 0o777 == 0o700
    for secret in (auth.private_key_file, auth.orchestrator_token_file, auth.cli_token_file):
        assert secret.stat().st_mode & 0o777 == 0o600, secret
    admin = _verify(auth, auth.cli_token_file)
    assert (admin.subject, admin.tenant, admin.role) == ("ana", "local", Role.ADMIN)
    service = _verify(auth, auth.orchestrator_token_file)
    assert (service.subject, service.role) == ("orchestrator", Role.ORCHESTRATOR)
    assert auth.revoked_file.exists()


def test_a_restart_keeps_the_key_so_earlier_tokens_still_verify(tmp_path: Path) -> None:
    first = local_auth.prepare(tmp_path)
    earlier = first.cli_token_file.read_text()
    key = first.private_key_file.read_bytes()
    again = local_auth.prepare(tmp_path)
    assert again.private_key_file.read_bytes() == key
    assert again.cli_token_file.read_text() != earlier  # minted afresh
    verifier = TokenVerifier(load_public_key(again.public_key_file))
    assert verifier.verify(earlier).role == Role.ADMIN


def test_the_services_are_given_paths_their_settings_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_settings(UpSettings, ["--data-dir", str(tmp_path / "var")])
    auth = local_auth.prepare(settings.data_dir)
    built = build_stack(settings, auth, text_logs=False)
    components = {c.name: c for c in built if isinstance(c, ProcessComponent)}
    for name, settings_cls in (("safety", SafetySettings), ("orchestrator", OrchestratorSettings)):
        env = {k: v for k, v in components[name].env.items() if isinstance(v, str)}
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        understood = load_settings(settings_cls, None)
        assert understood.auth.public_key_file == auth.public_key_file.resolve()
        assert understood.auth.revoked_file == auth.revoked_file.resolve()
        # Paths only: no key or token travels in the environment or the command line.
        flat = " ".join([*env.values(), *components[name].argv])
        assert "PRIVATE KEY" not in flat and "eyJ" not in flat
        assert auth.nats_seed_file(BusRole.ORCHESTRATOR).read_text().strip() not in flat
    orchestrator = load_settings(OrchestratorSettings, None)
    assert orchestrator.auth.token_file == auth.orchestrator_token_file.resolve()
    # Its own NATS identity, which the safety gate (no NATS) is not given.
    assert orchestrator.nats_seed_file == auth.nats_seed_file(BusRole.ORCHESTRATOR).resolve()
    assert not [k for k in components["safety"].env if "NATS_SEED" in k]
