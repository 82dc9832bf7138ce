"""Property test: random create / insert / str_replace / undo_edit sequences through the
real service keep the file equal to a simple in-memory model of the editor."""

from __future__ import annotations

import itertools
from pathlib import Path

import grpc
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from deskpilot.v1 import common_pb2, shell_pb2, shell_pb2_grpc

# Tabs, newlines, spaces and multi-byte characters, but no \r (CRLF has its own test).
TEXT = st.text(alphabet="ab \t\nxé漢", max_size=30)
_file_numbers = itertools.count()


class ModelFile:
    """What the file should hold, and the versions undo_edit goes back through."""

    def __init__(self) -> None:
        self.text: str | None = None
        self.undo: list[str | None] = []

    def lines(self) -> list[str]:
        if not self.text:
            return []
        return self.text.removesuffix("\n").split("\n")

    def change(self, text: str) -> None:
        self.undo.append(self.text)
        self.text = text


class EditorMachine(RuleBasedStateMachine):
    stub: shell_pb2_grpc.ShellStub
    home: Path

    @initialize()
    def new_file(self) -> None:
        self.path = self.home / f"model_{next(_file_numbers)}.txt"
        self.model = ModelFile()

    def edit(self, **command: object) -> grpc.StatusCode:
        request = shell_pb2.EditRequest(
            command=shell_pb2.EditCommand(**command),
            version=common_pb2.EDITOR_TOOL_VERSION_20250124,
        )
        try:
            self.stub.Edit(request, timeout=30)
        except grpc.RpcError as error:
            return error.code()
        return grpc.StatusCode.OK

    @rule(text=TEXT)
    def create(self, text: str) -> None:
        code = self.edit(create=shell_pb2.CreateCommand(path=str(self.path), file_text=text))
        assert code == grpc.StatusCode.OK
        self.model.change(text)

    @rule(line=st.integers(-1, 12), text=TEXT)
    def insert(self, line: int, text: str) -> None:
        command = shell_pb2.InsertCommand(path=str(self.path), insert_line=line, insert_text=text)
        code = self.edit(insert=command)
        if self.model.text is None:
            assert code == grpc.StatusCode.NOT_FOUND
            return
        lines = self.model.lines()
        if not 0 <= line <= len(lines):
            assert code == grpc.StatusCode.INVALID_ARGUMENT
            return
        assert code == grpc.StatusCode.OK
        ends_with_newline = self.model.text.endswith("\n") or not self.model.text
        lines[line:line] = text.removesuffix("\n").split("\n")
        self.model.change("\n".join(lines) + ("\n" if ends_with_newline else ""))

    @rule(data=st.data(), new=TEXT)
    def str_replace(self, data: st.DataObject, new: str) -> None:
        current = self.model.text or ""
        # Mostly pieces of the current text (so replacements happen), sometimes anything.
        start = data.draw(st.integers(0, len(current)))
        end = data.draw(st.integers(start, min(len(current), start + 8)))
        old = data.draw(st.one_of(st.just(current[start:end]), TEXT))
        command = shell_pb2.StrReplaceCommand(path=str(self.path), old_str=old, new_str=new)
        code = self.edit(str_replace=command)
        if self.model.text is None:
            assert code in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT)
        elif not old or current.count(old) != 1:
            assert code == grpc.StatusCode.INVALID_ARGUMENT
        else:
            assert code == grpc.StatusCode.OK
            self.model.change(current.replace(old, new, 1))

    @rule()
    def undo_edit(self) -> None:
        code = self.edit(undo_edit=shell_pb2.UndoEditCommand(path=str(self.path)))
        if not self.model.undo:
            assert code == grpc.StatusCode.FAILED_PRECONDITION
            return
        assert code == grpc.StatusCode.OK
        self.model.text = self.model.undo.pop()

    checked = 0  # invariant checks run against a real file, over all examples

    @invariant()
    def file_matches_model(self) -> None:
        if getattr(self, "model", None) is None:
            return
        type(self).checked += 1
        if self.model.text is None:
            assert not self.path.exists()
        else:
            assert self.path.read_bytes() == self.model.text.encode("utf-8")


@pytest.mark.timeout(300)
def test_editor_matches_model(
    sync_shell_stub: shell_pb2_grpc.ShellStub, shell_in_thread: tuple[str, Path]
) -> None:
    EditorMachine.stub = sync_shell_stub
    EditorMachine.home = shell_in_thread[1]
    machine = EditorMachine.TestCase
    machine.settings = settings(
        max_examples=60,
        stateful_step_count=25,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    machine().runTest()
    # The comparisons are the machine's invariant; make sure they really ran.
    assert EditorMachine.checked > 0
