"""Which paths the editor may touch: absolute ones that resolve inside the roots."""

from __future__ import annotations

import os

from deskpilot.common.errors import InvalidArgument


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
        resolved = os.path.realpath(path)
        if not self.allows(resolved):
            via = "" if resolved == os.path.normpath(path) else f" (it resolves to {resolved})"
            raise InvalidArgument(
                f"path {path} is outside the directories the editor may use{via}; "
                f"allowed: {', '.join(self.roots)}"
            )
        return resolved
