"""The CLI reaches an orchestrator that serves mutual TLS (as in a Kubernetes
deployment) with --tls.* flags or DESKPILOT_CLI_TLS__* variables; without a certificate,
or in plaintext, it is refused; a certificate it cannot read is one line and exit 2."""

from __future__ import annotations

from deskpilot.standin import Turn
from deskpilot.v1 import orchestrator_pb2, session_pb2
from tests.fixtures.auth import test_auth
from tests.helpers.certs import TestCA
from tests.helpers.cli import run_cli


async def test_the_cli_talks_to_an_orchestrator_over_mutual_tls(orchestrator_stack, tmp_path):
    ca = TestCA(tmp_path)
    served, mine = ca.issue("orchestrator"), ca.issue("cli")
    async with orchestrator_stack([Turn.text("done")]) as stack:
        tls = {"cert_file": served.cert_file, "key_file": served.key_file, "ca_file": ca.ca_file}
        replica = await stack.add_replica(tls=tls)
        address = replica.server.address
        # A session made through the plaintext replica, listed through the TLS one.
        created = await stack.stub_as(test_auth().mint()).CreateSession(
            orchestrator_pb2.CreateSessionRequest(config=session_pb2.SessionConfig(task="t"))
        )
        flags = ["--tls.ca-file", str(ca.ca_file), "--tls.cert-file", str(mine.cert_file),
                 "--tls.key-file", str(mine.key_file)]  # fmt: skip
        listed = await run_cli("sessions", "--orchestrator", address, *flags)
        assert listed.code == 0, listed.err
        assert created.session.id in listed.out
        variables = {
            "DESKPILOT_CLI_TLS__CA_FILE": str(ca.ca_file),
            "DESKPILOT_CLI_TLS__CERT_FILE": str(mine.cert_file),
            "DESKPILOT_CLI_TLS__KEY_FILE": str(mine.key_file),
        }
        by_env = await run_cli("sessions", "--orchestrator", address, env_extra=variables)
        assert by_env.code == 0, by_env.err
        assert created.session.id in by_env.out

        # The orchestrator asks for a client certificate; plaintext gets no handshake.
        for refused_flags in (flags[:2], []):
            refused = await run_cli("sessions", "--orchestrator", address, *refused_flags)
            assert refused.code == 1
            assert f"cannot reach the orchestrator at {address}" in refused.err

        missing = tmp_path / "missing.pem"
        unreadable = await run_cli("sessions", "--orchestrator", address, "--tls.ca-file",
                                   str(missing))  # fmt: skip
        assert unreadable.code == 2
        assert unreadable.err.strip() == f"deskpilot sessions: cannot read {missing}: " + (
            "No such file or directory"
        )
