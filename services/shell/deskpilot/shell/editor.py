"""The text-editor commands on the file system: view, create, str_replace, insert, undo.

Methods are synchronous (run them in a worker thread) and take paths the caller has
checked with `PathPolicy`; the caller also serialises commands on the same path. Each
method opens its path through the policy again and then works only through the
descriptors it got, never the path string, so a path changed meanwhile cannot lead it
outside the roots. Every check happens before anything is written, so a refused command
changes nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
from collections import OrderedDict, deque
from collections.abc import Iterator
from dataclasses import dataclass

from deskpilot.common.errors import FailedPrecondition, InvalidArgument, NotFound
from deskpilot.shell import textfile
from deskpilot.shell.beneath import Target
from deskpilot.shell.paths import PathPolicy
from deskpilot.shell.rendering import clip, numbered, snippet, split_lines

_REVIEW = "Review the changes and make sure they are as expected. Edit the file again if necessary."
_MAX_FILES_WITH_HISTORY = 256


@dataclass(frozen=True)
class EditOutcome:
    """The text for the model, the resolved path, and whether anything was written."""

    output: str
    path: str
    changed: bool


@dataclass(frozen=True)
class _Version:
    """A file's state before one edit (None: it did not exist) and a digest of after."""

    before: bytes | None
    mode: int
    after_digest: bytes


class Editor:
    """Text-editor commands inside the policy's roots, with per-file undo history."""

    def __init__(
        self,
        policy: PathPolicy,
        max_file_bytes: int,
        max_directory_entries: int = 1000,
        undo_depth: int = 20,
    ) -> None:
        self.policy = policy
        self.max_file_bytes = max_file_bytes
        self.max_directory_entries = max_directory_entries
        self.undo_depth = undo_depth
        self._history: OrderedDict[str, deque[_Version]] = OrderedDict()

    # -- view ---------------------------------------------------------------------------

    def view(
        self, path: str, view_range: tuple[int, int] | None, max_characters: int | None
    ) -> EditOutcome:
        with self.policy.open(path) as target:
            return self._view(target, view_range, max_characters)

    def _view(
        self, target: Target, view_range: tuple[int, int] | None, max_characters: int | None
    ) -> EditOutcome:
        path, info = target.path, _stat(target)
        if stat.S_ISDIR(info.st_mode):
            if view_range is not None:
                raise InvalidArgument(
                    f"view_range only applies to files; {path} is a directory. "
                    "View it without view_range"
                )
            listing = self._list_directory(target)
            return EditOutcome(clip(listing, max_characters), path, False)
        text = self._read(target).text
        lines = split_lines(text)
        first = 1
        if view_range is not None:
            start, end = _check_range(view_range, len(lines))
            lines = lines[start - 1 : len(lines) if end == -1 else end]
            first = start
        output = f"Here's the result of running `cat -n` on {path}:\n" + numbered(lines, first)
        return EditOutcome(clip(output, max_characters), path, False)

    def _list_directory(self, target: Target) -> str:
        path = target.path
        assert target.fd is not None
        entries: list[str] = []
        cut = False
        for entry in _visible_entries(target.fd, "."):
            entry_path = os.path.join(path, entry.name)
            entries.append(entry_path + ("/" if _is_dir(entry) else ""))
            if _is_dir(entry):
                entries.extend(
                    os.path.join(entry_path, e.name) + ("/" if _is_dir(e) else "")
                    for e in _visible_entries(target.fd, entry.name)
                )
            if len(entries) >= self.max_directory_entries:
                cut = True
                break
        shown = entries[: self.max_directory_entries]
        text = (
            f"Here's the files and directories up to 2 levels deep in {path}, "
            f"excluding hidden items:\n{path}/\n" + "".join(f"{e}\n" for e in shown)
        )
        if cut:
            text += (
                f"[listing cut after {self.max_directory_entries} entries; view a subdirectory]\n"
            )
        return text

    # -- changes ------------------------------------------------------------------------

    def create(self, path: str, file_text: str) -> EditOutcome:
        with self.policy.open(path) as target:
            return self._create(target, file_text)

    def _create(self, target: Target, file_text: str) -> EditOutcome:
        path = target.path
        if target.blocked_by is not None:
            raise FailedPrecondition(
                f"cannot create {path}: {target.blocked_by} is a file, not a directory; "
                "nothing was written"
            )
        before: bytes | None = None
        mode = textfile.new_file_mode()
        if target.exists:
            before, mode = textfile.read_bytes(target, self.max_file_bytes)
        data = file_text.encode("utf-8")
        self._check_size(path, data)
        with _writing(path):
            target.make_parents()
        self._write(target, before, data, mode)
        lines = split_lines(file_text)
        verb = "overwritten" if before is not None else "created successfully"
        output = f"File {verb} at: {path} ({len(lines)} lines)\n"
        if lines:
            output += f"Here's the result of running `cat -n` on the start of {path}:\n"
            output += snippet(file_text, 0, 0)
        return EditOutcome(output, path, True)

    def str_replace(self, path: str, old_str: str, new_str: str) -> EditOutcome:
        with self.policy.open(path) as target:
            return self._str_replace(target, old_str, new_str)

    def _str_replace(self, target: Target, old_str: str, new_str: str) -> EditOutcome:
        path = target.path
        if not old_str:
            raise InvalidArgument("old_str is empty: give the exact text to replace")
        current = self._read(target)
        if current.newline == "\r\n":  # the model works with \n; the file keeps CRLF
            old_str, new_str = old_str.replace("\r\n", "\n"), new_str.replace("\r\n", "\n")
        text = current.text
        at = text.find(old_str)
        if at < 0:
            hint = ""
            if "\t" in text and "\t" not in old_str:
                hint = (
                    " The file contains tabs, which view shows expanded to spaces; "
                    "use tab characters in old_str where the file has them."
                )
            raise InvalidArgument(
                f"No replacement was performed, old_str did not appear verbatim in {path}.{hint}"
            )
        if text.find(old_str, at + len(old_str)) >= 0:
            lines = _occurrence_lines(text, old_str)
            raise InvalidArgument(
                f"No replacement was performed. Multiple occurrences of old_str in lines "
                f"{lines} of {path}. Make old_str unique by including more surrounding lines"
            )
        new_text = text[:at] + new_str + text[at + len(old_str) :]
        self._replace_text(target, current, new_text)
        line = text.count("\n", 0, at)
        shown = snippet(new_text, line, line + new_str.count("\n"))
        return EditOutcome(
            f"The file {path} has been edited. Here's the result of running `cat -n` on a "
            f"snippet of {path}:\n{shown}{_REVIEW}",
            path,
            True,
        )

    def insert(self, path: str, insert_line: int, insert_text: str) -> EditOutcome:
        with self.policy.open(path) as target:
            return self._insert(target, insert_line, insert_text)

    def _insert(self, target: Target, insert_line: int, insert_text: str) -> EditOutcome:
        path = target.path
        current = self._read(target)
        if current.newline == "\r\n":
            insert_text = insert_text.replace("\r\n", "\n")
        text = current.text
        count = len(split_lines(text))
        if not 0 <= insert_line <= count:
            raise InvalidArgument(
                f"insert_line {insert_line} is out of range: {path} has {count} lines, so it "
                f"must be between 0 (insert at the top) and {count} (insert at the end)"
            )
        block = insert_text if insert_text.endswith("\n") else insert_text + "\n"
        if insert_line == count and text and not text.endswith("\n"):
            new_text = text + "\n" + block[:-1]  # keep the file's missing final newline
        else:
            offset = _line_offset(text, insert_line)
            new_text = text[:offset] + block + text[offset:]
        self._replace_text(target, current, new_text)
        shown = snippet(new_text, insert_line, insert_line + block.count("\n") - 1)
        return EditOutcome(
            f"The file {path} has been edited. Here's the result of running `cat -n` on a "
            f"snippet of the edited file:\n{shown}"
            "Review the changes and make sure they are as expected (correct indentation, "
            "no duplicate lines, etc). Edit the file again if necessary.",
            path,
            True,
        )

    def undo_edit(self, path: str) -> EditOutcome:
        with self.policy.open(path) as target:
            return self._undo_edit(target)

    def _undo_edit(self, target: Target) -> EditOutcome:
        path = target.path
        history = self._history.get(path)
        if not history:
            raise FailedPrecondition(f"No edit history found for {path}: there is nothing to undo")
        last = history[-1]
        try:
            current, _mode = textfile.read_bytes(target, self.max_file_bytes)
        except FileNotFoundError:
            current = None
        if current is None or hashlib.sha256(current).digest() != last.after_digest:
            raise FailedPrecondition(
                f"{path} was changed by something other than the editor since its last edit; "
                "undo refused so that change is not lost. View the file and edit it instead"
            )
        if last.before is None:
            with _writing(path):
                textfile.remove(target)
            history.pop()
            return EditOutcome(
                f"Last edit to {path} undone successfully: the file did not exist before, "
                "so it was removed.",
                path,
                True,
            )
        with _writing(path):
            textfile.atomic_write(target, last.before, last.mode)
        history.pop()
        restored = last.before.decode("utf-8", errors="replace").replace("\r\n", "\n")
        after = current.decode("utf-8", errors="replace").replace("\r\n", "\n")
        line = _first_difference(restored, after)
        return EditOutcome(
            f"Last edit to {path} undone successfully. Here's the result of running `cat -n` "
            f"on a snippet of {path}:\n{snippet(restored, line, line)}",
            path,
            True,
        )

    # -- helpers ------------------------------------------------------------------------

    def _read(self, target: Target) -> textfile.TextFile:
        try:
            data, mode = textfile.read_bytes(target, self.max_file_bytes)
        except FileNotFoundError:
            raise _not_found(target) from None
        return textfile.decode(target.path, data, mode)

    def _replace_text(self, target: Target, current: textfile.TextFile, new_text: str) -> None:
        data = current.encode(new_text)
        self._check_size(target.path, data)
        self._write(target, current.encode(current.text), data, current.mode)

    def _check_size(self, path: str, data: bytes) -> None:
        if len(data) > self.max_file_bytes:
            raise InvalidArgument(
                f"the result would make {path} {len(data)} bytes, over the editor's limit of "
                f"{self.max_file_bytes} bytes; nothing was written"
            )

    def _write(self, target: Target, before: bytes | None, data: bytes, mode: int) -> None:
        path = target.path
        with _writing(path):
            textfile.atomic_write(target, data, mode)
        history = self._history.pop(path, None) or deque(maxlen=self.undo_depth)
        history.append(_Version(before, mode, hashlib.sha256(data).digest()))
        self._history[path] = history
        while len(self._history) > _MAX_FILES_WITH_HISTORY:
            self._history.popitem(last=False)


@contextlib.contextmanager
def _writing(path: str) -> Iterator[None]:
    """A failed write (disk full, permissions, size limit) as a clear error."""
    try:
        yield
    except OSError as exc:
        raise FailedPrecondition(
            f"could not write {path}: {exc.strerror or exc}; the file was left unchanged"
        ) from None


def _stat(target: Target) -> os.stat_result:
    info = target.info
    if info is None:
        raise _not_found(target)
    if not (stat.S_ISDIR(info.st_mode) or stat.S_ISREG(info.st_mode)):
        raise FailedPrecondition(
            f"{target.path} is {textfile.kind_of(info.st_mode)}; the editor only views regular "
            "files and directories"
        )
    return info


def _not_found(target: Target) -> NotFound:
    blocking = target.blocked_by
    why = f" ({blocking} is a file, not a directory)" if blocking is not None else ""
    return NotFound(
        f"The path {target.path} does not exist{why}. Check it (view the parent directory) "
        "or create the file first"
    )


def _check_range(view_range: tuple[int, int], count: int) -> tuple[int, int]:
    start, end = view_range
    if count == 0:
        raise InvalidArgument("the file is empty (0 lines); view it without view_range")
    if not 1 <= start <= count:
        raise InvalidArgument(
            f"view_range start {start} is out of range: the file's lines are numbered 1 to {count}"
        )
    if end != -1 and not start <= end <= count:
        what = "before its start" if end < start else f"past the last line ({count})"
        raise InvalidArgument(
            f"view_range end {end} is {what}: give an end between {start} and {count}, "
            "or -1 for the end of the file"
        )
    return start, end


def _occurrence_lines(text: str, old_str: str) -> list[int]:
    lines, at = [], text.find(old_str)
    while at >= 0:
        lines.append(text.count("\n", 0, at) + 1)
        at = text.find(old_str, at + len(old_str))
    return lines


def _line_offset(text: str, line: int) -> int:
    """Offset where 0-based line `line` starts (len(text) past the end)."""
    offset = 0
    for _ in range(line):
        offset = text.index("\n", offset) + 1
    return offset


def _first_difference(a: str, b: str) -> int:
    """0-based index of the first line where a and b differ."""
    for index, (x, y) in enumerate(zip(a.split("\n"), b.split("\n"), strict=False)):
        if x != y:
            return index
    return min(a.count("\n"), b.count("\n"))


def _visible_entries(directory: int, name: str) -> list[os.DirEntry[str]]:
    """The entries of directory `name` in `directory` (not through a symlink), sorted."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                     dir_fd=directory)  # fmt: skip
    except OSError:
        return []
    try:
        with os.scandir(fd) as it:
            return sorted((e for e in it if not e.name.startswith(".")), key=lambda e: e.name)
    except OSError:
        return []
    finally:
        os.close(fd)


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False
