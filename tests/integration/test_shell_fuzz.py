"""Fuzzing: whatever BashRequest or EditRequest a client sends, the real Shell service
answers it or refuses it with a precise status, never INTERNAL (or UNKNOWN)."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deskpilot.v1 import common_pb2, shell_pb2, shell_pb2_grpc
from tests.helpers.fuzz import EDGE_NUMBERS, NOT_PRECISE, answer, fuzz_settings, struct

_FUZZ = fuzz_settings(300)

# Numbers JSON cannot carry but a Struct can, and numbers at the edges of int32 and beyond.
NUMBERS = st.one_of(
    st.integers(-(2**40), 2**40),
    st.sampled_from(EDGE_NUMBERS),
)
JSON = st.recursive(
    st.none() | st.booleans() | NUMBERS | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
# Commands that are harmless whatever they are run with.
COMMANDS = st.sampled_from(["true", "echo fuzz", "exit 3", "", "  ", "a\0b", "printf '\\xff'"])
KEYS = st.sampled_from(["", "fuzz", "é" * 200, "k" * 300])
# Paths are resolved against the service's home root (see `_path`).
PATH_NAMES = st.sampled_from(
    ["", "relative.txt", "f.txt", "dir", "f.txt/under-a-file", "f.txt/a/b", "missing/new.txt",
     "loop", "n" * 256, "é" * 128, "dir/" + "d" * 255, "/etc/passwd", "/", ".", "..", "fifo"]
)  # fmt: skip


def _tool_input(fields: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    values = st.one_of(JSON, COMMANDS, PATH_NAMES)
    return st.dictionaries(st.sampled_from([*fields, "extra"]), values, max_size=len(fields) + 1)


def _tool_call(names: list[str], types: list[str], fields: list[str]) -> st.SearchStrategy:
    return st.builds(
        lambda name, tool_type, arguments: common_pb2.ToolCall(
            name=name, tool_type=tool_type, input=struct(arguments)
        ),
        st.sampled_from(["", "other", *names]),
        st.sampled_from(["", "nonsense", *types]),
        _tool_input(fields),
    )


BASH_REQUESTS = st.builds(
    lambda command, call, kind, version, timeout, limit, key: shell_pb2.BashRequest(
        **({"command": command} if kind == "command" else {"tool_call": call} if kind else {}),
        version=version,
        timeout_seconds=timeout,
        max_output_bytes=limit,
        idempotency_key=key,
    ),
    st.builds(
        lambda text, restart: shell_pb2.BashCommand(command=text, restart=restart),
        COMMANDS,
        st.booleans(),
    ),
    _tool_call(["bash"], ["bash_20241022", "bash_20250124"], ["command", "restart"]),
    st.sampled_from(["command", "tool_call", ""]),
    st.integers(-3, 6),
    st.sampled_from([0.0, 5.0, -1.0, math.nan, math.inf, 1e9, 1e-9]),
    st.sampled_from([0, 300, -5, 2**31 - 1]),
    KEYS,
)
EDIT_FIELDS = ["command", "path", "view_range", "file_text", "old_str", "new_str", "insert_line"]
EDIT_FIELDS += ["insert_text"]
INT32 = st.integers(-(2**31), 2**31 - 1)


def _edit_command(verb: str, path: str, text: str, number: int, other: int) -> Any:
    command = shell_pb2.EditCommand()
    if verb == "view":
        command.view.path = path
        if number % 2:
            command.view.view_range.start, command.view.view_range.end = number, other
        if other % 3 == 0:
            command.view.max_characters = other
    elif verb == "create":
        command.create.path = path
        command.create.file_text = text
    elif verb == "str_replace":
        command.str_replace.path = path
        command.str_replace.old_str = text
        command.str_replace.new_str = text[::-1]
    elif verb == "insert":
        command.insert.path = path
        command.insert.insert_line = number
        command.insert.insert_text = text
    elif verb == "undo_edit":
        command.undo_edit.path = path
    return command


EDIT_REQUESTS = st.builds(
    lambda command, call, kind, version, limit, key: shell_pb2.EditRequest(
        **({"command": command} if kind == "command" else {"tool_call": call} if kind else {}),
        version=version,
        max_characters=limit,
        idempotency_key=key,
    ),
    st.builds(
        _edit_command,
        st.sampled_from(["view", "create", "str_replace", "insert", "undo_edit", "none"]),
        PATH_NAMES,
        st.text(alphabet="ab\n\t\0é", max_size=12),
        st.integers(-3, 12) | INT32,
        st.integers(-3, 12) | INT32,
    ),
    _tool_call(
        ["str_replace_editor", "str_replace_based_edit_tool"],
        [f"text_editor_{day}" for day in ("20241022", "20250124", "20250429", "20250728")],
        EDIT_FIELDS,
    ),
    st.sampled_from(["command", "tool_call", ""]),
    st.integers(-3, 8),
    st.none() | st.integers(-3, 100),
    KEYS,
)


def _path(home: Path, name: Any) -> Any:
    if not isinstance(name, str) or not name or name.startswith("/") or name == "relative.txt":
        return name
    return str(home / name)


def _rooted(request: Any, home: Path) -> Any:
    """Put the request's paths under the service's home (the ones meant to be there)."""
    if request.WhichOneof("request") == "tool_call":
        fields = request.tool_call.input.fields
        if "path" in fields and fields["path"].HasField("string_value"):
            fields["path"].string_value = _path(home, fields["path"].string_value)
    elif request.WhichOneof("request") == "command" and request.command.WhichOneof("command"):
        args = getattr(request.command, request.command.WhichOneof("command"))
        args.path = _path(home, args.path)
    return request


@pytest.fixture(scope="module")
def home(shell_in_thread: tuple[str, Path]) -> Path:
    """The service's home root, with a file, a folder, a symlink loop and a FIFO."""
    home = shell_in_thread[1]
    (home / "f.txt").write_text("one\ntwo\nthree\n")
    (home / "dir").mkdir()
    (home / "loop").symlink_to(home / "loop")
    os.mkfifo(home / "fifo")
    return home


@pytest.mark.timeout(300)
@_FUZZ
@given(request=BASH_REQUESTS)
def test_no_bash_request_is_an_internal_error(
    sync_shell_stub: shell_pb2_grpc.ShellStub, request: shell_pb2.BashRequest
) -> None:
    code, details = answer(sync_shell_stub.Bash, request)
    assert code not in NOT_PRECISE, f"{code}: {details}\n{request}"


@pytest.mark.timeout(300)
@_FUZZ
@given(request=EDIT_REQUESTS)
def test_no_edit_request_is_an_internal_error(
    sync_shell_stub: shell_pb2_grpc.ShellStub, home: Path, request: shell_pb2.EditRequest
) -> None:
    code, details = answer(sync_shell_stub.Edit, _rooted(request, home))
    assert code not in NOT_PRECISE, f"{code}: {details}\n{request}"
