"""Which paths the editor may touch: absolute ones that resolve inside the roots."""

from __future__ import annotations

import os

from deskpilot.common.errors import InvalidArgument

# Linux limits, in bytes: one name in a path (NAME_MAX), and a whole path with its NUL.
NAME_MAX = 255
PATH_MAX = 4096


class PathPolicy:
    """Resolves symlinks and `..` and keeps every path inside the configured roots."""

    def __init__(self, roots: list[str]) -> None:
        self.roots = [os.path.realpath(os.path.expanduser(root)) for root in roots]

    def allows(self, resolved: str) -> bool:
        """True when the already resolved path is a root or inside one."""
        return any(
            resolved == root or resolved.startswith(root.rstrip("/") + "/") for root in self.roots
        )

    def resolve(self, path: str) -> str:
        """The real absolute path for `path`, or INVALID_ARGUMENT saying what is wrong."""
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
        resolved = os.path.realpath(path)
        _check_lengths(resolved)
        if not self.allows(resolved):
            via = "" if resolved == os.path.normpath(path) else f" (it resolves to {resolved})"
            raise InvalidArgument(
                f"path {path} is outside the directories the editor may use{via}; "
                f"allowed: {', '.join(self.roots)}"
            )
        return resolved


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
