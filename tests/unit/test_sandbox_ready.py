"""The sandbox's ready report is a SandboxReady on one line of proto3 JSON: what the
sandbox writes, its provider reads back whole, and other lines are not taken for it."""

from __future__ import annotations

import json

from deskpilot.common.sandbox_ready import parse_ready_line, ready_line
from deskpilot.v1 import common_pb2, session_pb2


def _report() -> session_pb2.SandboxReady:
    return session_pb2.SandboxReady(
        endpoints=session_pb2.SandboxEndpoints(
            display_address="127.0.0.1:42299",
            shell_address="127.0.0.1:48051",
            vnc_address="127.0.0.1:40123",
        ),
        secrets=session_pb2.SandboxSecrets(vnc_password="Fk4Vfnm8"),
        display=":3",
        x_server="xvfb",
        screen=common_pb2.Size(width=1280, height=800),
        user="deskpilot",
        home="/home/deskpilot",
        pid=4242,
        start_seconds=1.3,
        missing=["shell executor"],
    )


def test_the_report_travels_whole_on_one_line_with_the_protos_field_names() -> None:
    line = ready_line(_report())
    assert "\n" not in line
    assert json.loads(line)["endpoints"]["display_address"] == "127.0.0.1:42299"
    assert parse_ready_line(line) == _report()
    assert parse_ready_line(line.encode() + b"\n") == _report()


def test_other_lines_are_not_a_report() -> None:
    log_line = json.dumps({"level": "INFO", "message": "started display-executor"})
    for line in ("", "ready", "[1, 2]", log_line, b"\xff\xfe", '{"endpoints": 3}'):
        assert parse_ready_line(line) is None, line


def test_fields_a_newer_sandbox_adds_are_skipped() -> None:
    report = json.loads(ready_line(_report()))
    report["gpu"] = "none"
    report["endpoints"]["audio_address"] = "127.0.0.1:1"
    assert parse_ready_line(json.dumps(report)) == _report()
