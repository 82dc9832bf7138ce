"""Tool-call inputs (protobuf Struct) as plain Python data, refusing what JSON cannot hold.

A Struct can carry NaN and ±Infinity; JSON cannot, and nothing the model writes holds
them, so such an input is a bad request, named by the path of the offending value.
Every service that reads a tool call's input (display, shell, safety) reads it here.
"""

from __future__ import annotations

import math
from typing import Any

from google.protobuf import struct_pb2


class NonFiniteNumber(ValueError):
    """A number in the input is NaN or infinite; the message names where, and `path` is
    that place alone (`coordinate[0]`), for a field violation."""

    def __init__(self, message: str, path: str) -> None:
        super().__init__(message)
        self.path = path


def struct_to_dict(struct: struct_pb2.Struct, where: str = "") -> dict[str, Any]:
    """`struct` as a dict (numbers as floats, like MessageToDict); raises NonFiniteNumber
    naming the path (`call.input.coordinate[0]`, or `coordinate[0]` with no `where`) of a
    NaN or infinite number."""
    return {key: _value(value, _join(where, key)) for key, value in struct.fields.items()}


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _value(value: struct_pb2.Value, where: str) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "number_value":
        number = value.number_value
        if not math.isfinite(number):
            raise NonFiniteNumber(
                f"`{where}` is {number}: a tool input's numbers must be finite "
                "(JSON has no NaN or infinity)",
                where,
            )
        return number
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "struct_value":
        return struct_to_dict(value.struct_value, where)
    if kind == "list_value":
        return [
            _value(item, f"{where}[{index}]") for index, item in enumerate(value.list_value.values)
        ]
    return None  # null_value, or a Value with nothing set
