"""Protobuf messages as the JSON the page reads: field names as in the .proto files,
enums by name, 64-bit integers as strings (as proto3 JSON says)."""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message


def to_json(message: Message) -> dict[str, Any]:
    return json_format.MessageToDict(message, preserving_proto_field_name=True)
