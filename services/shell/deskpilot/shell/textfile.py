"""Reading text files safely and writing them atomically, keeping their format.

A file's text is handled with `\\n` line endings; a file whose lines all end in CRLF is
written back with CRLF, and a UTF-8 byte order mark is kept.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import stat
import tempfile
from dataclasses import dataclass

from deskpilot.common.errors import FailedPrecondition

_TEMP_NAME_BYTES = 200
_KINDS = {
    stat.S_ISDIR: "a directory",
    stat.S_ISCHR: "a character device",
    stat.S_ISBLK: "a block device",
    stat.S_ISFIFO: "a named pipe (FIFO)",
    stat.S_ISSOCK: "a socket",
}


@dataclass(frozen=True)
class TextFile:
    """A decoded text file and how to write it back the same way."""

    text: str
    newline: str
    bom: bool
    mode: int

    def encode(self, text: str) -> bytes:
        """`text` (with `\\n` endings) in this file's line endings and byte order mark."""
        if self.newline != "\n":
            text = text.replace("\n", self.newline)
        data = text.encode("utf-8")
        return codecs.BOM_UTF8 + data if self.bom else data


def kind_of(mode: int) -> str:
    """'a directory', 'a socket', … for anything that is not a regular file."""
    return next((name for test, name in _KINDS.items() if test(mode)), "not a regular file")


def stat_path(path: str) -> os.stat_result:
    """os.stat, where a path under a file counts as missing (FileNotFoundError, the
    caller's to explain) and any other failure (a symlink loop, no permission) is
    FAILED_PRECONDITION."""
    try:
        return os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise FileNotFoundError(path) from None
    except OSError as exc:
        raise FailedPrecondition(f"cannot read {path}: {exc.strerror or exc}") from None


def file_above(path: str) -> str | None:
    """The nearest folder of `path` that exists but is a file (so `path` cannot exist)."""
    parent = os.path.dirname(path)
    while parent and parent != path:
        if os.path.lexists(parent):
            return None if os.path.isdir(parent) else parent
        path, parent = parent, os.path.dirname(parent)
    return None


def read_bytes(path: str, max_bytes: int) -> tuple[bytes, int]:
    """A regular file's bytes and mode; refuses other kinds and files over `max_bytes`."""
    kind = stat_path(path).st_mode
    if not stat.S_ISREG(kind):
        raise FailedPrecondition(
            f"{path} is {kind_of(kind)}; the editor only works on regular files"
        )
    try:
        # O_NONBLOCK: a file swapped for a FIFO must not block; O_NOFOLLOW: already resolved.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):
        raise FileNotFoundError(path) from None
    except OSError as exc:
        raise FailedPrecondition(f"cannot open {path}: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FailedPrecondition(
                f"{path} is {kind_of(info.st_mode)}; the editor only works on regular files"
            )
        if info.st_size > max_bytes:
            raise FailedPrecondition(
                f"{path} is {info.st_size} bytes, over the editor's limit of {max_bytes} bytes; "
                "use bash (e.g. sed -n, head, grep) for large files"
            )
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks), stat.S_IMODE(info.st_mode)
    finally:
        os.close(fd)


def decode(path: str, data: bytes, mode: int) -> TextFile:
    """Decode UTF-8 text; FAILED_PRECONDITION for binary or other encodings."""
    if b"\0" in data:
        raise FailedPrecondition(
            f"{path} looks binary (it contains NUL bytes); the editor only edits text files"
        )
    bom = data.startswith(codecs.BOM_UTF8)
    try:
        text = data[3 if bom else 0 :].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FailedPrecondition(
            f"{path} is not valid UTF-8 (byte 0x{data[exc.start + (3 if bom else 0)]:02x} at "
            f"offset {exc.start + (3 if bom else 0)}); the editor only edits UTF-8 text. "
            "Convert it first, e.g. with iconv"
        ) from None
    crlf = text.count("\r\n")
    if crlf and crlf == text.count("\n"):
        return TextFile(text.replace("\r\n", "\n"), "\r\n", bom, mode)
    return TextFile(text, "\n", bom, mode)


def atomic_write(path: str, data: bytes, mode: int) -> None:
    """Write to a temp file beside `path`, fsync, rename over it; nothing half-written."""
    directory, name = os.path.split(path)
    # The temp file's name must fit NAME_MAX (255 bytes) even when the file's name does.
    short = name.encode()[:_TEMP_NAME_BYTES].decode(errors="ignore")
    fd, temp = tempfile.mkstemp(prefix=f".{short}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    _fsync_dir(directory)


def remove(path: str) -> None:
    os.unlink(path)
    _fsync_dir(os.path.dirname(path))


def _fsync_dir(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def new_file_mode() -> int:
    """The mode a new file gets: 0666 minus the process umask (read without changing it)."""
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status") as f:
        for line in f:
            if line.startswith("Umask:"):
                return 0o666 & ~int(line.split()[1], 8)
    return 0o644
