"""The sandbox credential: how a sandbox's executors know a call comes from its orchestrator.

Each sandbox gets a random credential when it is provisioned. The orchestrator keeps it
in the session's record (never in the public Session) and sends it with every executor
call as gRPC metadata; the executors refuse every call without it but health checks and
reflection (`credential_check`).

The model's shell runs as the same user as the executors, so the credential must never
sit where that user can read it, and never in argv or the environment (both readable in
/proc by the same user):

- The provider writes it to a file only root (or, without root, only the sandbox
  process's user before anything else runs) can read; the sandbox process reads it and
  deletes it before it starts anything (`read_credential_file`).
- The sandbox process hands it to each executor through a pipe it inherits
  (`credential_pipe`, `--credential-fd`); the executor reads it and closes the pipe
  before it serves, so before the model's shell exists.
- Every process holding it makes itself non-dumpable (`keep_out_of_reach`): then
  processes of the same user can neither ptrace it nor read its /proc memory, environ or
  file descriptors, which they could otherwise.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import secrets
import stat
from pathlib import Path

METADATA_KEY = "deskpilot-sandbox-credential"
_CREDENTIAL_BYTES = 32
_MAX_CREDENTIAL_CHARACTERS = 256
_PR_SET_DUMPABLE = 4
_libc = ctypes.CDLL(None, use_errno=True)


class CredentialError(ValueError):
    """A credential that cannot be read, or is not one."""


def new_credential() -> str:
    """A fresh random credential (URL-safe text, 256 bits)."""
    return secrets.token_urlsafe(_CREDENTIAL_BYTES)


def call_metadata(credential: str) -> tuple[tuple[str, str], ...]:
    """gRPC metadata that presents `credential` (none when it is empty)."""
    return ((METADATA_KEY, credential),) if credential else ()


def write_credential_file(path: Path, credential: str) -> None:
    """Create `path` holding `credential`, readable by its owner only; an existing file is
    an error (it would keep whatever mode it had)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(credential)


def read_credential_file(path: Path, *, remove: bool) -> str:
    """The credential in `path`; with `remove`, the file is deleted once read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as exc:
        raise CredentialError(f"cannot read the credential file {path}: {exc.strerror}") from None
    with os.fdopen(fd) as file:
        text = file.read(_MAX_CREDENTIAL_CHARACTERS + 1)
    if remove:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    return _checked(text, f"the credential file {path}")


def readable_by_others(path: Path, uid: int, gid: int) -> bool:
    """Whether user `uid` (group `gid`) could read `path` by its mode (root aside)."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return False
    if not stat.S_ISREG(info.st_mode):
        return False
    if info.st_uid == uid:
        return bool(info.st_mode & stat.S_IRUSR)
    if info.st_gid == gid:
        return bool(info.st_mode & stat.S_IRGRP)
    return bool(info.st_mode & stat.S_IROTH)


def credential_pipe(credential: str) -> int:
    """The read end of a pipe holding `credential`, for a child to inherit (pass_fds) and
    read with `read_credential_fd`; the caller closes it once the child has started."""
    read_fd, write_fd = os.pipe()
    try:
        os.write(write_fd, credential.encode())  # far below a pipe's capacity
    finally:
        os.close(write_fd)
    return read_fd


def read_credential_fd(fd: int) -> str:
    """Read the credential from the inherited descriptor `fd` to its end, then close it."""
    chunks = []
    try:
        while chunk := os.read(fd, 4096):
            chunks.append(chunk)
            if sum(map(len, chunks)) > _MAX_CREDENTIAL_CHARACTERS:
                break
    except OSError as exc:
        if exc.errno == errno.EBADF:
            raise CredentialError(f"descriptor {fd} is not open: no credential passed") from None
        raise CredentialError(f"cannot read descriptor {fd}: {exc.strerror}") from None
    finally:
        with contextlib.suppress(OSError):
            os.close(fd)
    return _checked(b"".join(chunks).decode(errors="replace"), f"descriptor {fd}")


def keep_out_of_reach() -> None:
    """Make this process non-dumpable: other processes of its user (the model's shell)
    can no longer ptrace it or read its memory, environment or descriptors in /proc."""
    if _libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE, 0) failed")


def _checked(text: str, source: str) -> str:
    credential = text.strip()
    if not credential:
        raise CredentialError(f"{source} holds no credential")
    if len(credential) > _MAX_CREDENTIAL_CHARACTERS or not credential.isprintable():
        raise CredentialError(
            f"{source} does not hold a credential (printable, at most "
            f"{_MAX_CREDENTIAL_CHARACTERS} characters)"
        )
    return credential
