"""The text-editor tool against the real Shell service over gRPC, on real files."""

from __future__ import annotations

import asyncio
import math
import os
import resource
import socket
import stat
from pathlib import Path

import grpc
import pytest
from google.protobuf import struct_pb2

from deskpilot.v1 import common_pb2, shell_pb2
from tests.fixtures.shell import ShellHandle, running_shell

V20241022 = common_pb2.EDITOR_TOOL_VERSION_20241022
V20250124 = common_pb2.EDITOR_TOOL_VERSION_20250124
V20250429 = common_pb2.EDITOR_TOOL_VERSION_20250429
V20250728 = common_pb2.EDITOR_TOOL_VERSION_20250728


async def edit(
    handle: ShellHandle, version: int = V20250124, key: str = "", **command: object
) -> shell_pb2.EditResponse:
    return await handle.stub.Edit(
        shell_pb2.EditRequest(
            command=shell_pb2.EditCommand(**command), version=version, idempotency_key=key
        )
    )


async def call(
    handle: ShellHandle, tool_type: str, name: str = "", **arguments: object
) -> shell_pb2.EditResponse:
    """A raw tool call, as the model wrote it."""
    struct = struct_pb2.Struct()
    struct.update(arguments)
    if not name:
        old = tool_type in ("text_editor_20241022", "text_editor_20250124")
        name = "str_replace_editor" if old else "str_replace_based_edit_tool"
    tool_call = common_pb2.ToolCall(name=name, tool_type=tool_type, input=struct)
    return await handle.stub.Edit(shell_pb2.EditRequest(tool_call=tool_call))


async def rejected(coroutine: object) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await coroutine  # type: ignore[misc]
    return error.value


def view(path: Path | str, view_range: tuple[int, int] | None = None, **extra: object) -> dict:
    command = shell_pb2.ViewCommand(path=str(path), **extra)
    if view_range is not None:
        command.view_range.start, command.view_range.end = view_range
    return {"view": command}


def create(path: Path | str, text: str) -> dict:
    return {"create": shell_pb2.CreateCommand(path=str(path), file_text=text)}


def replace(path: Path | str, old: str, new: str | None = None) -> dict:
    command = shell_pb2.StrReplaceCommand(path=str(path), old_str=old)
    if new is not None:
        command.new_str = new
    return {"str_replace": command}


def insert(path: Path | str, line: int, text: str) -> dict:
    return {"insert": shell_pb2.InsertCommand(path=str(path), insert_line=line, insert_text=text)}


def undo(path: Path | str) -> dict:
    return {"undo_edit": shell_pb2.UndoEditCommand(path=str(path))}


# -- view -----------------------------------------------------------------------------------


async def test_view_numbers_lines_and_expands_tabs_only_on_screen(shell: ShellHandle) -> None:
    path = shell.home / "a.py"
    path.write_text("def f():\n\treturn 1\n")
    result = await edit(shell, **view(path))
    assert result.output == (
        f"Here's the result of running `cat -n` on {path}:\n"
        "     1\tdef f():\n     2\t        return 1\n"
    )
    assert not result.changed and result.path == str(path)
    await edit(shell, **replace(path, "\treturn 1", "\treturn 2"))
    assert path.read_text() == "def f():\n\treturn 2\n"  # the tab is still a tab


async def test_view_range(shell: ShellHandle) -> None:
    path = shell.home / "lines.txt"
    path.write_text("".join(f"line {i}\n" for i in range(1, 11)))
    middle = await edit(shell, **view(path, (3, 5)))
    assert middle.output.endswith("     3\tline 3\n     4\tline 4\n     5\tline 5\n")
    to_end = await edit(shell, **view(path, (9, -1)))
    assert to_end.output.endswith("     9\tline 9\n    10\tline 10\n")


@pytest.mark.parametrize(
    ("view_range", "message"),
    [
        ((0, 3), "start 0 is out of range"),
        ((11, -1), "start 11 is out of range"),
        ((5, 3), "end 3 is before its start"),
        ((2, 11), "end 11 is past the last line (10)"),
    ],
)
async def test_view_range_out_of_bounds(
    shell: ShellHandle, view_range: tuple[int, int], message: str
) -> None:
    path = shell.home / "ten.txt"
    path.write_text("x\n" * 10)
    error = await rejected(edit(shell, **view(path, view_range)))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and message in error.details()


async def test_view_directory_two_levels_without_hidden(shell: ShellHandle) -> None:
    (shell.home / "src" / "pkg" / "deep").mkdir(parents=True)
    (shell.home / "src" / "pkg" / "deep" / "too_deep.py").write_text("")
    (shell.home / "src" / "main.py").write_text("")
    (shell.home / ".secret").mkdir()
    (shell.home / ".secret" / "key").write_text("")
    (shell.home / "src" / ".hidden.py").write_text("")
    result = await edit(shell, **view(shell.home))
    listed = result.output.splitlines()[1:]
    home = str(shell.home)
    assert listed == [f"{home}/", f"{home}/src/", f"{home}/src/main.py", f"{home}/src/pkg/"]


async def test_max_characters_clips_the_view(shell: ShellHandle) -> None:
    path = shell.home / "long.txt"
    path.write_text("abcdefghij\n" * 100)
    result = await edit(shell, V20250728, **view(path, max_characters=200))
    assert result.output.startswith("Here's the result")
    assert len(result.output.split("\n<response clipped>")[0]) == 200
    assert "Use view_range" in result.output
    error = await rejected(edit(shell, V20250124, **view(path, max_characters=200)))
    assert "only in text_editor_20250728" in error.details()


async def test_max_characters_of_the_tool_definition_applies_to_raw_calls(
    shell: ShellHandle,
) -> None:
    path = shell.home / "long.txt"
    path.write_text("abcdefghij\n" * 100)
    arguments = struct_pb2.Struct()
    arguments.update({"command": "view", "path": str(path)})
    tool_call = common_pb2.ToolCall(
        name="str_replace_based_edit_tool", tool_type="text_editor_20250728", input=arguments
    )
    result = await shell.stub.Edit(shell_pb2.EditRequest(tool_call=tool_call, max_characters=120))
    assert len(result.output.split("\n<response clipped>")[0]) == 120
    # The model cannot lift the limit: the field is not part of its input.
    error = await rejected(
        call(shell, "text_editor_20250728", command="view", path=str(path), max_characters=10**6)
    )
    assert "unexpected field 'max_characters'" in error.details()


# -- create / str_replace / insert --------------------------------------------------------


async def test_create_makes_parents_and_overwrites_keeping_mode(shell: ShellHandle) -> None:
    path = shell.home / "new" / "dir" / "f.txt"
    created = await edit(shell, **create(path, "one\ntwo\n"))
    assert created.changed and "created" in created.output and "     1\tone" in created.output
    assert path.read_text() == "one\ntwo\n"
    os.chmod(path, 0o751)
    await edit(shell, **create(path, "three\n"))
    assert path.read_text() == "three\n" and stat.S_IMODE(path.stat().st_mode) == 0o751


async def test_str_replace_shows_a_snippet_and_keeps_mode(shell: ShellHandle) -> None:
    path = shell.home / "s.sh"
    path.write_text("".join(f"line {i}\n" for i in range(1, 21)))
    path.chmod(0o755)
    result = await edit(shell, **replace(path, "line 10\n", "ten\nTEN\n"))
    assert result.changed
    assert "     6\tline 6\n" in result.output and "    10\tten\n    11\tTEN\n" in result.output
    assert "    15\tline 14\n" in result.output and "line 5\n" not in result.output
    assert stat.S_IMODE(path.stat().st_mode) == 0o755
    await edit(shell, **replace(path, "TEN\n"))  # no new_str: delete
    assert "TEN" not in path.read_text()


async def test_str_replace_needs_exactly_one_occurrence(shell: ShellHandle) -> None:
    path = shell.home / "dup.txt"
    original = "a = 1\nb = 2\na = 1\nc = 3\na = 1\n"
    path.write_text(original)
    many = await rejected(edit(shell, **replace(path, "a = 1", "a = 9")))
    assert many.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "Multiple occurrences of old_str in lines [1, 3, 5]" in many.details()
    none = await rejected(edit(shell, **replace(path, "zzz", "y")))
    assert "did not appear verbatim" in none.details()
    empty = await rejected(edit(shell, **replace(path, "", "y")))
    assert "old_str is empty" in empty.details()
    assert path.read_text() == original


async def test_str_replace_hints_at_tabs(shell: ShellHandle) -> None:
    path = shell.home / "tabs.txt"
    path.write_text("\tindented\n")
    error = await rejected(edit(shell, **replace(path, "        indented", "x")))
    assert "tabs" in error.details()


async def test_insert(shell: ShellHandle) -> None:
    path = shell.home / "ins.txt"
    path.write_text("a\nb\n")
    await edit(shell, **insert(path, 0, "top"))
    await edit(shell, **insert(path, 2, "middle\nmore\n"))
    result = await edit(shell, **insert(path, 5, "end"))
    assert path.read_text() == "top\na\nmiddle\nmore\nb\nend\n"
    assert "     6\tend\n" in result.output
    no_newline = shell.home / "nonl.txt"
    no_newline.write_text("x")
    await edit(shell, **insert(no_newline, 1, "y"))
    assert no_newline.read_text() == "x\ny"


async def test_insert_past_the_end(shell: ShellHandle) -> None:
    path = shell.home / "short.txt"
    path.write_text("1\n2\n3\n")
    error = await rejected(edit(shell, **insert(path, 4, "x")))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "between 0 (insert at the top) and 3" in error.details()
    assert (await rejected(edit(shell, **insert(path, -1, "x")))).code() == (
        grpc.StatusCode.INVALID_ARGUMENT
    )
    assert path.read_text() == "1\n2\n3\n"


async def test_crlf_line_endings_and_bom_are_preserved(shell: ShellHandle) -> None:
    path = shell.home / "win.txt"
    path.write_bytes(b"\xef\xbb\xbfone\r\ntwo\r\nthree\r\n")
    shown = await edit(shell, **view(path))
    assert "     2\ttwo\n" in shown.output and "\r" not in shown.output
    await edit(shell, **replace(path, "two\nthree", "2\n3"))
    await edit(shell, **insert(path, 1, "one and a half"))
    assert path.read_bytes() == b"\xef\xbb\xbfone\r\none and a half\r\n2\r\n3\r\n"
    await edit(shell, **undo(path))
    await edit(shell, **undo(path))
    assert path.read_bytes() == b"\xef\xbb\xbfone\r\ntwo\r\nthree\r\n"


# -- undo -----------------------------------------------------------------------------------


async def test_undo_walks_back_through_several_edits(shell: ShellHandle) -> None:
    path = shell.home / "u.txt"
    await edit(shell, **create(path, "v1\n"))
    await edit(shell, **replace(path, "v1", "v2"))
    await edit(shell, **insert(path, 1, "v3"))
    await edit(shell, **create(path, "v4\n"))
    for expected in ("v2\nv3\n", "v2\n", "v1\n"):
        result = await edit(shell, **undo(path))
        assert result.changed and path.read_text() == expected
    removed = await edit(shell, **undo(path))
    assert "did not exist before" in removed.output and not path.exists()
    error = await rejected(edit(shell, **undo(path)))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "nothing to undo" in error.details()


async def test_undo_refuses_to_clobber_outside_changes(shell: ShellHandle) -> None:
    path = shell.home / "shared.txt"
    await edit(shell, **create(path, "mine\n"))
    path.write_text("someone else's\n")
    error = await rejected(edit(shell, **undo(path)))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert path.read_text() == "someone else's\n"


@pytest.mark.parametrize("version", [V20250429, V20250728])
async def test_undo_does_not_exist_in_newer_versions(shell: ShellHandle, version: int) -> None:
    path = shell.home / "n.txt"
    await edit(shell, version, **create(path, "x\n"))
    error = await rejected(edit(shell, version, **undo(path)))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "undo_edit is not a command of" in error.details()
    assert path.read_text() == "x\n"


# -- paths and files the editor refuses -----------------------------------------------------


async def test_relative_path(shell: ShellHandle) -> None:
    error = await rejected(edit(shell, **view("notes.txt")))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (
        "must be absolute" in error.details() and str(shell.home / "notes.txt") in error.details()
    )


async def test_paths_outside_the_roots(shell: ShellHandle) -> None:
    secret = shell.outside / "secret.txt"
    secret.write_text("secret\n")
    (shell.home / "link").symlink_to(shell.outside)
    (shell.home / "file_link").symlink_to(secret)
    attempts = [
        view(secret),
        view(shell.home / ".." / "outside" / "secret.txt"),
        view(shell.home / "link" / "secret.txt"),
        create(shell.home / "link" / "planted.txt", "x"),
        replace(shell.home / "file_link", "secret", "changed"),
        insert(shell.home / "file_link", 0, "x"),
        view("/etc"),
    ]
    for attempt in attempts:
        error = await rejected(edit(shell, **attempt))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "outside the directories the editor may use" in error.details()
    assert secret.read_text() == "secret\n" and not (shell.outside / "planted.txt").exists()


async def test_symlink_inside_the_roots_is_followed(shell: ShellHandle) -> None:
    target = shell.home / "real.txt"
    target.write_text("real\n")
    (shell.home / "alias.txt").symlink_to(target)
    result = await edit(shell, **replace(shell.home / "alias.txt", "real", "edited"))
    assert result.path == str(target) and target.read_text() == "edited\n"
    assert (shell.home / "alias.txt").is_symlink()


async def test_special_files_are_refused(shell: ShellHandle) -> None:
    fifo = shell.home / "fifo"
    os.mkfifo(fifo)
    sock_path = shell.home / "sock"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(sock_path))
    try:
        for path, kind in ((fifo, "named pipe"), (sock_path, "socket")):
            for command in (view(path), replace(path, "a", "b"), create(path, "x")):
                error = await rejected(edit(shell, **command))
                assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
                assert kind in error.details()
    finally:
        sock.close()


async def test_device_files_are_refused(tmp_path: Path) -> None:
    async with running_shell(tmp_path, roots=["/dev"]) as handle:
        error = await rejected(edit(handle, **view("/dev/null")))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "character device" in error.details()


async def test_size_limit(tmp_path: Path) -> None:
    async with running_shell(tmp_path, max_file_bytes=100) as handle:
        big = handle.home / "big.txt"
        big.write_text("x" * 101)
        error = await rejected(edit(handle, **view(big)))
        assert error.code() == grpc.StatusCode.FAILED_PRECONDITION and "limit" in error.details()
        small = handle.home / "small.txt"
        small.write_text("x" * 90 + "\n")
        grow = await rejected(edit(handle, **insert(small, 1, "y" * 20)))
        assert "over the editor's limit" in grow.details()
        assert small.read_text() == "x" * 90 + "\n"


async def test_binary_and_non_utf8_files(shell: ShellHandle) -> None:
    binary = shell.home / "blob.bin"
    binary.write_bytes(b"\x7fELF\x00\x01\x02")
    latin = shell.home / "latin1.txt"
    latin.write_bytes("café\n".encode("latin-1"))
    error = await rejected(edit(shell, **view(binary)))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION and "binary" in error.details()
    error = await rejected(edit(shell, **replace(latin, "caf", "x")))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "not valid UTF-8 (byte 0xe9 at offset 3)" in error.details()
    assert latin.read_bytes() == "café\n".encode("latin-1")


async def test_missing_file(shell: ShellHandle) -> None:
    error = await rejected(edit(shell, **view(shell.home / "nope.txt")))
    assert error.code() == grpc.StatusCode.NOT_FOUND and "does not exist" in error.details()


async def test_failed_write_leaves_the_file_untouched(shell: ShellHandle) -> None:
    path = shell.home / "f.txt"
    path.write_text("original\n")
    # A real failing write: the process may not write files over 100 bytes (EFBIG).
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (100, hard))
    try:
        error = await rejected(edit(shell, **replace(path, "original", "x" * 200)))
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "could not write" in error.details() and "left unchanged" in error.details()
    assert path.read_text() == "original\n" and os.listdir(shell.home) == ["f.txt"]
    undo_error = await rejected(edit(shell, **undo(path)))  # the failed edit left no history
    assert undo_error.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_concurrent_edits_to_different_files(shell: ShellHandle) -> None:
    paths = [shell.home / f"c{i}.txt" for i in range(8)]
    await asyncio.gather(*(edit(shell, **create(p, "")) for p in paths))

    async def append_lines(path: Path) -> None:
        for line in range(20):
            await edit(shell, **insert(path, line, f"{path.stem}-{line}"))

    await asyncio.gather(*(append_lines(p) for p in paths))
    for path in paths:
        assert path.read_text() == "".join(f"{path.stem}-{i}\n" for i in range(20))
        assert not [n for n in os.listdir(path.parent) if n.endswith(".tmp")]


async def test_concurrent_edits_to_one_file_are_serialised(shell: ShellHandle) -> None:
    path = shell.home / "one.txt"
    await edit(shell, **create(path, "".join(f"k{i}\n" for i in range(30))))
    await asyncio.gather(*(edit(shell, **replace(path, f"k{i}\n", f"v{i}\n")) for i in range(30)))
    assert path.read_text() == "".join(f"v{i}\n" for i in range(30))


async def test_idempotent_edit_is_not_applied_twice(shell: ShellHandle) -> None:
    path = shell.home / "once.txt"
    path.write_text("a\n")
    first = await edit(shell, key="e1", **insert(path, 1, "b"))
    again = await edit(shell, key="e1", **insert(path, 1, "b"))
    assert path.read_text() == "a\nb\n"
    assert (first.replayed, again.replayed, again.output) == (False, True, first.output)


# -- raw tool calls per version -------------------------------------------------------------


async def test_raw_calls_per_version(shell: ShellHandle) -> None:
    raw = shell.home / "raw.txt"
    path = str(raw)
    await call(shell, "text_editor_20241022", command="create", path=path, file_text="a\nb\n")
    await call(
        shell, "text_editor_20250124", command="insert", path=path, insert_line=1.0, new_str="x"
    )
    await call(
        shell, "text_editor_20250429", command="insert", path=path, insert_line=0, new_str="y"
    )
    await call(
        shell, "text_editor_20250728", command="insert", path=path, insert_line=4, insert_text="z"
    )
    await call(
        shell, "text_editor_20250728", command="str_replace", path=path, old_str="x\n", new_str=""
    )
    assert raw.read_text() == "y\na\nb\nz\n"
    shown = await call(shell, "text_editor_20250728", command="view", path=path, view_range=[2, 3])
    assert shown.output.endswith("     2\ta\n     3\tb\n")
    undone = await call(shell, "text_editor_20241022", command="undo_edit", path=path)
    assert undone.changed and raw.read_text() == "y\na\nx\nb\nz\n"


@pytest.mark.parametrize(
    ("tool_type", "arguments", "message"),
    [
        ("text_editor_20250728", {"path": "/x"}, "`command` is required"),
        ("text_editor_20250728", {"command": "delete", "path": "/x"}, "unknown command 'delete'"),
        ("text_editor_20250429", {"command": "undo_edit", "path": "/x"}, "undo_edit exists only"),
        ("text_editor_20250124", {"command": "view"}, "missing path"),
        ("text_editor_20250124", {"command": "create", "path": "/x"}, "missing file_text"),
        (
            "text_editor_20250124",
            {"command": "view", "path": "/x", "max_characters": 10},
            "unexpected field 'max_characters'",
        ),
        (
            "text_editor_20250728",
            {"command": "insert", "path": "/x", "insert_line": 1, "new_str": "a"},
            "unexpected field 'new_str'",
        ),
        (
            "text_editor_20250124",
            {"command": "insert", "path": "/x", "insert_line": 1, "insert_text": "a"},
            "unexpected field 'insert_text'",
        ),
        (
            "text_editor_20250124",
            {"command": "insert", "path": "/x", "insert_line": 1.5, "new_str": "a"},
            "`insert_line` must be an integer, got 1.5",
        ),
        (
            "text_editor_20250124",
            {"command": "insert", "path": "/x", "insert_line": "1", "new_str": "a"},
            "`insert_line` must be an integer, got a string",
        ),
        ("text_editor_20250124", {"command": "view", "path": 7}, "`path` must be a string"),
        (
            "text_editor_20250124",
            {"command": "view", "path": "/x", "view_range": [1]},
            "list of two integers",
        ),
        ("text_editor_20250124", {"command": "view", "path": "/x", "extra": 1}, "'extra'"),
        ("text_editor_2023", {"command": "view", "path": "/x"}, "unknown tool_type"),
        (
            "text_editor_20250124",
            {"command": "insert", "path": "/x", "insert_line": math.nan, "new_str": "a"},
            "`insert_line` is nan: a tool input's numbers must be finite",
        ),
        (
            "text_editor_20250728",
            {"command": "view", "path": "/x", "view_range": [1, math.inf]},
            "`view_range[1]` is inf",
        ),
        (
            "text_editor_20250728",
            {"command": "view", "path": "/x", "extra": {"deep": [-math.inf]}},
            "`extra.deep[0]` is -inf",
        ),
    ],
)
async def test_bad_raw_calls(
    shell: ShellHandle, tool_type: str, arguments: dict[str, object], message: str
) -> None:
    error = await rejected(call(shell, tool_type, **arguments))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in error.details()


async def test_tool_name_must_match_the_version(shell: ShellHandle) -> None:
    error = await rejected(
        call(shell, "text_editor_20250728", name="str_replace_editor", command="view", path="/x")
    )
    assert "str_replace_based_edit_tool" in error.details()


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ({}, "no command given"),
        ({"view": shell_pb2.ViewCommand()}, "`path` is required"),
        ({"create": shell_pb2.CreateCommand(path="{home}/x")}, "`file_text` is required"),
        ({"str_replace": shell_pb2.StrReplaceCommand(path="{home}/x")}, "`old_str` is required"),
        ({"insert": shell_pb2.InsertCommand(path="{home}/x", insert_text="a")}, "`insert_line`"),
    ],
)
async def test_bad_typed_commands(
    shell: ShellHandle, command: dict[str, object], message: str
) -> None:
    for value in command.values():
        if value.HasField("path"):
            value.path = value.path.format(home=shell.home)
    error = await rejected(edit(shell, **command))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and message in error.details()


@pytest.mark.parametrize("version", [5, 99, -1])
async def test_an_unknown_editor_version_is_invalid_argument(
    shell: ShellHandle, version: int
) -> None:
    typed = await rejected(edit(shell, version, **view(shell.home)))
    struct = struct_pb2.Struct()
    struct.update({"command": "view", "path": str(shell.home)})
    for tool_type in ("", "text_editor_20250728"):
        raw_call = common_pb2.ToolCall(tool_type=tool_type, input=struct)
        raw = await rejected(
            shell.stub.Edit(shell_pb2.EditRequest(tool_call=raw_call, version=version))
        )
        assert raw.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert f"unknown text-editor tool version {version};" in raw.details()
    assert typed.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert f"unknown text-editor tool version {version}; allowed: 0 (unspecified" in typed.details()


async def test_names_and_paths_over_the_kernel_limits_are_invalid_argument(
    shell: ShellHandle,
) -> None:
    for name in ("n" * 256, "é" * 128, "d" * 256 + "/file.txt"):
        for command in (view(shell.home / name), create(shell.home / name, "x")):
            error = await rejected(edit(shell, **command))
            assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "is 256 bytes long" in error.details()
            assert "may be at most 255 bytes" in error.details()
    deep = shell.home.joinpath(*["d" * 200] * 21)
    error = await rejected(edit(shell, **create(deep, "x")))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "the limit is 4095 bytes" in error.details()
    assert os.listdir(shell.home) == []
    longest = shell.home / ("n" * 255)
    assert (await edit(shell, **create(longest, "x"))).changed


async def test_a_file_where_a_directory_should_be(shell: ShellHandle) -> None:
    file = shell.home / "f.txt"
    file.write_text("text\n")
    for path in (file / "new.txt", file / "a" / "b" / "new.txt"):
        error = await rejected(edit(shell, **create(path, "x")))
        assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert f"{file} is a file, not a directory; nothing was written" in error.details()
        for command in (view(path), replace(path, "a", "b"), insert(path, 0, "x")):
            error = await rejected(edit(shell, **command))
            assert error.code() == grpc.StatusCode.NOT_FOUND
            assert f"({file} is a file, not a directory)" in error.details()
    assert file.read_text() == "text\n" and os.listdir(shell.home) == ["f.txt"]


async def test_a_symlink_loop_is_failed_precondition(shell: ShellHandle) -> None:
    loop = shell.home / "loop"
    loop.symlink_to(loop)
    for command in (view(loop), create(loop, "x"), replace(loop, "a", "b")):
        error = await rejected(edit(shell, **command))
        assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "symbolic links" in error.details()
