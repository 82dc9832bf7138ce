"""The sandbox credential's own handling: a file only its owner reads, a pipe a child
inherits, and a precise error for anything that is not a credential."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from deskpilot.common.sandbox_credential import (
    CredentialError,
    credential_pipe,
    new_credential,
    read_credential_fd,
    read_credential_file,
    readable_by_others,
    write_credential_file,
)


def test_fresh_credentials_differ_and_are_long() -> None:
    first, second = new_credential(), new_credential()
    assert first != second and len(first) >= 43  # 256 bits


def test_the_file_is_its_owners_alone_never_reused_and_removed_once_read(tmp_path: Path) -> None:
    path = tmp_path / "credential"
    write_credential_file(path, "abc")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(FileExistsError):
        write_credential_file(path, "other")  # it would keep whatever mode it had
    assert readable_by_others(path, os.getuid() + 1, os.getgid() + 1) is False
    assert read_credential_file(path, remove=True) == "abc"
    assert not path.exists()


@pytest.mark.parametrize(
    ("content", "problem"), [("\n", "holds no credential"), ("a\x00b", "does not hold")]
)
def test_what_is_not_a_credential_is_named(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "credential"
    path.write_text(content)
    with pytest.raises(CredentialError, match=f"the credential file {path} {problem}"):
        read_credential_file(path, remove=False)


def test_a_symlink_is_not_followed(tmp_path: Path) -> None:
    (tmp_path / "real").write_text("abc")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(CredentialError, match="cannot read"):
        read_credential_file(tmp_path / "link", remove=False)


def test_the_pipe_carries_it_once_and_is_closed_after() -> None:
    fd = credential_pipe("s3cret")
    assert read_credential_fd(fd) == "s3cret"
    with pytest.raises(OSError):
        os.fstat(fd)  # closed: nothing else in the process can read it again
    with pytest.raises(CredentialError, match=f"descriptor {fd} is not open"):
        read_credential_fd(fd)
