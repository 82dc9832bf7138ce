"""The sandbox's ready report on the wire: a `SandboxReady` as one line of proto3 JSON.

The sandbox writes it (stdout and its ready file) and its provider reads it, so both sides
share the proto's field names and types instead of agreeing on dictionary keys.
"""

from __future__ import annotations

from google.protobuf import json_format

from deskpilot.v1 import session_pb2


def ready_line(report: session_pb2.SandboxReady) -> str:
    """`report` as one JSON line (no newline), with the .proto's field names."""
    return json_format.MessageToJson(report, preserving_proto_field_name=True, indent=None)


def parse_ready_line(line: str | bytes) -> session_pb2.SandboxReady | None:
    """The report in `line`, or None when the line is something else (not JSON, or JSON
    without endpoints). Fields this version does not know are skipped, so a newer sandbox
    still reports to an older orchestrator."""
    report = session_pb2.SandboxReady()
    try:
        json_format.Parse(line, report, ignore_unknown_fields=True)
    except (json_format.ParseError, ValueError):  # ValueError: bytes that are not UTF-8
        return None
    return report if report.HasField("endpoints") else None
