"""Reading text files safely and writing them atomically, keeping their format.

A file's text is handled with `\\n` line endings; a file whose lines all end in CRLF is
written back with CRLF, and a UTF-8 byte order mark is kept.
"""

from __future__ import annotations

import codecs
import contextlib
import errno
import os
import secrets
import stat
from dataclasses import dataclass

from deskpilot.common.errors import FailedPrecondition
from deskpilot.shell.beneath import Target

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


def read_bytes(target: Target, max_bytes: int) -> tuple[bytes, int]:
    """A regular file's bytes and mode, read through its directory's descriptor; refuses
    other kinds, files with several names and files over `max_bytes`. A missing file is
    FileNotFoundError, the caller's to explain."""
    if target.info is None:
        raise FileNotFoundError(target.path)
    _check_kind(target.path, target.info)  # before opening: opening a device can act
    assert target.parent is not None and target.name is not None  # a root is a directory
    try:
        # O_NOFOLLOW: a name swapped for a symlink since the walk is refused, not followed;
        # O_NONBLOCK: one swapped for a FIFO must not block.
        fd = os.open(
            target.name,
            os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
            dir_fd=target.parent,
        )
    except FileNotFoundError:
        raise FileNotFoundError(target.path) from None
    except OSError as exc:
        raise FailedPrecondition(f"cannot open {target.path}: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if (info.st_dev, info.st_ino) != (target.info.st_dev, target.info.st_ino):
            raise FailedPrecondition(
                f"{target.path} was replaced while the editor opened it; nothing was read or "
                "written, try again"
            )
        _check_kind(target.path, info)
        if info.st_size > max_bytes:
            raise FailedPrecondition(
                f"{target.path} is {info.st_size} bytes, over the editor's limit of "
                f"{max_bytes} bytes; use bash (e.g. sed -n, head, grep) for large files"
            )
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks), stat.S_IMODE(info.st_mode)
    finally:
        os.close(fd)


def _check_kind(path: str, info: os.stat_result) -> None:
    """Only a regular file with one name: another name of it could lie anywhere, also
    outside the roots, and nothing tells where."""
    if not stat.S_ISREG(info.st_mode):
        raise FailedPrecondition(
            f"{path} is {kind_of(info.st_mode)}; the editor only works on regular files"
        )
    if info.st_nlink > 1:
        raise FailedPrecondition(
            f"{path} has {info.st_nlink} hard links; the editor refuses files with more than "
            "one name, since it cannot know where the other names lie (possibly outside the "
            "directories it may use). Nothing was read or written"
        )


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


def atomic_write(target: Target, data: bytes, mode: int) -> None:
    """Write to a temp file beside the target, fsync, rename over it, fsync the directory;
    all through the directory's descriptor, so nothing is half-written or lands elsewhere."""
    directory, name = target.parent, target.name
    assert directory is not None and name is not None
    # The temp file's name must fit NAME_MAX (255 bytes) even when the file's name does.
    short = name.encode()[:_TEMP_NAME_BYTES].decode(errors="ignore")
    temp, fd = _create_temp(directory, f".{short}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        os.replace(temp, name, src_dir_fd=directory, dst_dir_fd=directory)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp, dir_fd=directory)
        raise
    _fsync_dir(directory)


def remove(target: Target) -> None:
    assert target.parent is not None and target.name is not None
    os.unlink(target.name, dir_fd=target.parent)
    _fsync_dir(target.parent)


def _create_temp(directory: int, prefix: str) -> tuple[str, int]:
    """A new file of mode 0600 with a random name in `directory`: (name, descriptor)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    for _ in range(100):
        name = f"{prefix}{secrets.token_hex(4)}.tmp"
        try:
            return name, os.open(name, flags, 0o600, dir_fd=directory)
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary file name", prefix)


def _fsync_dir(directory: int) -> None:
    # The directory is pinned with O_PATH, which fsync does not take: open it for reading.
    fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=directory)
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
