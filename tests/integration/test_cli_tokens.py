"""`deskpilot token mint` and `revoke` as real subprocesses, and the session commands
presenting what they minted, against a real orchestrator stack: a scoped viewer token
sees its one session and cannot approve, a revoked one is refused, and a missing or
refused token is one line saying where the CLI looked and what to do."""

from __future__ import annotations

import re
from pathlib import Path

from deskpilot.common.identity import Role
from deskpilot.common.keys import load_public_key
from deskpilot.common.tokens import TokenVerifier
from deskpilot.standin import Turn
from deskpilot.v1 import orchestrator_pb2 as pb
from deskpilot.v1 import session_pb2
from tests.fixtures.auth import TENANT, test_auth
from tests.fixtures.orchestrator import Stack, follow_events, status_is
from tests.helpers.cli import run_cli

SUDO = Turn.tool_use("bash", {"command": "sudo -n true; echo ran"})


async def _waiting_session(stack: Stack) -> str:
    """A session of the test user waiting for a person to approve its sudo."""
    config = session_pb2.SessionConfig(task="use sudo", model="claude-sonnet-4-6")
    reply = await stack.stub.CreateSession(pb.CreateSessionRequest(config=config))
    waiting = status_is(session_pb2.SESSION_STATUS_WAITING_CONFIRMATION)
    await follow_events(stack.stub, reply.session.id, waiting)
    return reply.session.id


async def _mint(out: Path, *flags: str) -> str:
    key = str(test_auth().private_key_file)
    minted = await run_cli("token", "mint", "--key-file", key, "--out", str(out), *flags)
    assert minted.code == 0, minted.err
    return minted.err


async def test_a_minted_viewer_token_sees_its_session_and_cannot_approve(
    orchestrator_stack, tmp_path: Path
) -> None:
    async with orchestrator_stack([SUDO, Turn.text("ok"), Turn.text("other")]) as stack:
        address = stack.replicas[0].server.address
        session_id = await _waiting_session(stack)
        other = await run_cli("run", "something else", "--orchestrator", address)
        assert other.code == 0, other.err

        token_file = tmp_path / "viewer.token"
        said = await _mint(
            token_file, "--role", "viewer", "--tenant", TENANT, "--subject", "vic",
            "--session", session_id, "--ttl", "30m",
        )  # fmt: skip
        assert re.fullmatch(
            rf"viewer token for vic of tenant {TENANT} \(session {session_id} only\), id "
            rf"[0-9a-f]{{32}}, expires \S+, written to {re.escape(str(token_file))}\n",
            said,
        ), said
        assert token_file.stat().st_mode & 0o777 == 0o600
        verifier = TokenVerifier(load_public_key(test_auth().public_key_file))
        identity = verifier.verify(token_file.read_text().strip())
        assert (identity.role, identity.session_id) == (Role.VIEWER, session_id)

        viewer = ["--orchestrator", address, "--token-file", str(token_file)]
        listed = await run_cli("sessions", *viewer, token=None)
        assert listed.code == 0, listed.err
        assert session_id in listed.out and len(_ids(listed.out)) == 1, listed.out
        approve = await run_cli("approve", session_id, *viewer, token=None)
        assert (approve.code, approve.err) == (
            1,
            f"deskpilot approve: viewer vic of tenant {TENANT} (session {session_id} only) "
            "may not call Orchestrator/ResolveConfirmation\n",
        )
        # The session still waits for a person who may decide.
        assert (await run_cli("approve", session_id, "--orchestrator", address)).code == 0


def _ids(listing: str) -> list[str]:
    return re.findall(r"^(s-[0-9a-f]+)\s", listing, re.M)


async def test_a_revoked_token_is_refused_from_its_next_call(
    orchestrator_stack, tmp_path: Path
) -> None:
    async with orchestrator_stack([Turn.text("hi")]) as stack:
        address = stack.replicas[0].server.address
        token_file = tmp_path / "user.token"
        await _mint(token_file, "--tenant", TENANT, "--subject", "uma")
        mine = ["--orchestrator", address, "--token-file", str(token_file)]
        assert (await run_cli("sessions", *mine, token=None)).code == 0

        revoked = await run_cli(
            "token", "revoke", token_file.read_text().strip(),
            "--revoked-file", str(test_auth().revoked_file), "--note", "left",
        )  # fmt: skip
        assert revoked.code == 0, revoked.err
        token_id = re.fullmatch(r"revoked ([0-9a-f]{32}) in .*\n", revoked.err)
        assert token_id, revoked.err
        refused = await run_cli("sessions", *mine, token=None)
        assert refused.code == 1
        assert refused.err == (
            f"deskpilot sessions: the orchestrator refused your token ({token_file}): the token "
            f"{token_id[1]} was revoked; `deskpilot up` writes a fresh one to "
            "var/auth/cli.token at each start\n"
        )


async def test_without_a_token_the_cli_says_where_it_looked(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    # Nothing beside us (no var/auth/cli.token), nothing in the home: one line, exit 2.
    result = await run_cli(
        "sessions", "--orchestrator", "127.0.0.1:9", token=None, cwd=tmp_path,
        env_extra={"HOME": str(home)},
    )  # fmt: skip
    assert result.code == 2
    assert result.err == (
        "deskpilot sessions: cannot read the token file var/auth/cli.token: No such file or "
        "directory: `deskpilot up` writes one to var/auth/cli.token; elsewhere pass "
        "--token-file / DESKPILOT_CLI_TOKEN_FILE\n"
    )
    no_key = await run_cli("token", "mint", token=None, cwd=tmp_path)
    assert (no_key.code, no_key.err) == (
        2,
        "deskpilot token mint: cannot read the signing key var/auth/signing.key: No such file "
        "or directory\n",
    )
    bad_ttl = await run_cli("token", "mint", "--ttl", "forever", token=None)
    assert bad_ttl.code == 2
    assert bad_ttl.err.startswith("deskpilot token mint: --ttl must be a positive number")
