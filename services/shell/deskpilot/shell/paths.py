"""Which paths the editor may touch: absolute ones that resolve inside the roots."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from deskpilot.common.errors import FailedPrecondition, InvalidArgument
from deskpilot.shell import beneath

# Linux limits, in bytes: one name in a path (NAME_MAX), and a whole path with its NUL.
NAME_MAX = 255
PATH_MAX = 4096


class PathPolicy:
    """Keeps every path inside the configured roots, following symlinks and `..` only
    where they stay inside (see `beneath`)."""

    def __init__(self, roots: list[str]) -> None:
        self.roots = [os.path.realpath(os.path.expanduser(root)) for root in roots]

    def resolve(self, path: str) -> str:
        """The real absolute path for `path`, or a precise error saying what is wrong."""
        with self.open(path) as target:
            return target.path

    @contextlib.contextmanager
    def open(self, path: str) -> Iterator[beneath.Target]:
        """Where `path` leads beneath the roots, as descriptors to work through."""
        self._check(path)
        target = self._walk(path)
        try:
            _check_lengths(target.path)
            yield target
        finally:
            target.close()

    def _check(self, path: str) -> None:
        if not path:
            raise InvalidArgument("path is empty: give the absolute path of a file or directory")
        if "\0" in path:
            raise InvalidArgument("path contains a NUL character")
        if not os.path.isabs(path):
            example = os.path.join(self.roots[0], path)
            raise InvalidArgument(
                f"path must be absolute (start with /), got {path!r}; for example {example!r}"
            )
        _check_lengths(path)

    def _walk(self, path: str) -> beneath.Target:
        try:
            return beneath.resolve(self.roots, path)
        except beneath.Escape as escape:
            resolved = escape.resolved
            via = "" if resolved == os.path.normpath(path) else f" (it resolves to {resolved})"
            raise InvalidArgument(
                f"path {path} is outside the directories the editor may use{via}; "
                f"allowed: {', '.join(self.roots)}"
            ) from None
        except beneath.TooManyLinks:
            raise FailedPrecondition(
                f"cannot read {path}: Too many levels of symbolic links (the editor follows "
                f"at most {beneath.MAX_SYMLINKS}; is there a loop?)"
            ) from None
        except beneath.RootUnusable as unusable:
            raise FailedPrecondition(
                f"cannot use {path}: {unusable.root}, one of the directories the editor may "
                "use, is missing or is no longer a real directory (a symlink is not allowed on "
                "its path)"
            ) from None
        except OSError as exc:
            raise FailedPrecondition(f"cannot read {path}: {exc.strerror or exc}") from None


def _check_lengths(path: str) -> None:
    """The kernel's length limits, as INVALID_ARGUMENT instead of a failed system call."""
    size = len(path.encode("utf-8", errors="surrogateescape"))
    if size >= PATH_MAX:
        raise InvalidArgument(
            f"path is {size} bytes long; the limit is {PATH_MAX - 1} bytes (UTF-8)"
        )
    for name in path.split("/"):
        size = len(name.encode("utf-8", errors="surrogateescape"))
        if size > NAME_MAX:
            raise InvalidArgument(
                f"path component {name[:40]!r}... is {size} bytes long; a file or directory "
                f"name may be at most {NAME_MAX} bytes (UTF-8)"
            )
