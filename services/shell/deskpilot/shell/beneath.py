"""Resolving a path beneath the editor's roots through directory file descriptors.

The walk opens one name at a time, relative to the directory it opened before, with
O_NOFOLLOW, and follows symlinks itself: it reads each link, and a target that leaves the
current root is walked lexically until it lands in a root again (else the path is
outside). `..` goes back to a descriptor already held, never asks the kernel. So what
the walk ends on lies beneath a root whatever is renamed or swapped meanwhile, and the
caller reads and writes through the descriptors it returns, never a path string: the
guarantees of openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS) (a /proc magic link is just
a string here), with symlinks between and within the roots still followed, which the
kernel's RESOLVE_BENEATH refuses for absolute targets.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

# The kernel's limit on symlinks followed in one lookup (ELOOP beyond it).
MAX_SYMLINKS = 40

# O_PATH opens nothing (no device is opened, no read permission needed): it only pins
# the inode, for fstat, readlink and as the directory of later *at calls.
_PIN = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC


class Escape(Exception):
    """The path resolves outside every root."""

    def __init__(self, resolved: str) -> None:
        super().__init__(resolved)
        self.resolved = resolved


class TooManyLinks(Exception):
    """More than MAX_SYMLINKS symlinks on the way (a loop, most likely)."""


class RootUnusable(Exception):
    """A root is missing, not a directory, or has a symlink on its path."""

    def __init__(self, root: str) -> None:
        super().__init__(root)
        self.root = root


@dataclass
class Target:
    """Where a path led, as descriptors; close() releases them.

    - the path exists: `fd` pins it and `info` is its fstat; `parent` holds it under
      `name` (both None for a root itself);
    - it does not: `parent` is the deepest existing directory, `missing` the directories
      to create in it, `name` the file's name;
    - a non-directory stands where a directory should be: `blocked_by` names it.
    """

    path: str
    fd: int | None = None
    info: os.stat_result | None = None
    parent: int | None = None
    name: str | None = None
    missing: list[str] = field(default_factory=list)
    blocked_by: str | None = None
    _owned: list[int] = field(default_factory=list, repr=False)

    @property
    def exists(self) -> bool:
        return self.fd is not None

    def make_parents(self) -> None:
        """Create the missing directories, each in the one before, with no path string."""
        assert self.parent is not None
        for name in self.missing:
            # Made meanwhile is fine: the O_NOFOLLOW open below checks it is a directory.
            with contextlib.suppress(FileExistsError):
                os.mkdir(name, 0o777, dir_fd=self.parent)
            self.parent = self._own(os.open(name, _PIN | os.O_DIRECTORY, dir_fd=self.parent))
        self.missing = []

    def _own(self, fd: int) -> int:
        self._owned.append(fd)
        return fd

    def close(self) -> None:
        while self._owned:
            os.close(self._owned.pop())


def resolve(roots: Iterable[str], path: str) -> Target:
    """Walk absolute `path` beneath `roots` (real paths of directories)."""
    walk = _Walk({_parts(root): root for root in roots})
    try:
        return walk.run(path)
    except BaseException:
        walk.close()
        raise


@dataclass
class _Step:
    name: str
    fd: int
    info: os.stat_result


class _Walk:
    """The state of one resolution: lexically outside the roots, or down a root."""

    def __init__(self, roots: dict[tuple[str, ...], str]) -> None:
        self.roots = roots
        self.outside: list[str] | None = []  # lexical components while outside every root
        self.root = ""
        self.stack: list[_Step] = []  # the root, then each directory opened in the one before
        self.virtual: list[str] = []  # names past the last existing directory
        self.links = 0

    def run(self, path: str) -> Target:
        pending = deque(path.split("/"))
        self._enter_root()
        while pending:
            part = pending.popleft()
            if part in ("", "."):
                continue
            if self.outside is not None:
                self._step_outside(part)
            elif part == "..":
                self._up()
            elif self.virtual:
                self.virtual.append(part)
            else:
                link = self._down(part)
                if link is not None:
                    pending.extendleft(reversed(link.split("/")))
                elif not stat.S_ISDIR(self.stack[-1].info.st_mode) and _more(pending):
                    return self._blocked(pending)
        if self.outside is not None:
            raise Escape("/" + "/".join(self.outside))
        return self._target()

    def _step_outside(self, part: str) -> None:
        assert self.outside is not None
        if part == "..":
            if self.outside:
                self.outside.pop()
        else:
            self.outside.append(part)
        self._enter_root()

    def _enter_root(self) -> None:
        """Switch from lexical to real once the lexical path is exactly a root."""
        assert self.outside is not None
        root = self.roots.get(tuple(self.outside))
        if root is None:
            return
        fd = _open_root(root)
        self.stack = [_Step(root, fd, os.fstat(fd))]
        self.root, self.outside = root, None

    def _leave(self, outside: list[str]) -> None:
        self.close()
        self.stack, self.outside = [], outside
        self._enter_root()

    def _up(self) -> None:
        if self.virtual:
            self.virtual.pop()
        elif len(self.stack) > 1:
            os.close(self.stack.pop().fd)
        else:  # `..` of a root: continue lexically from the root's parent
            self._leave(list(_parts(self.root))[:-1])

    def _down(self, name: str) -> str | None:
        """Open `name` in the current directory; a symlink's target is returned instead."""
        try:
            fd = os.open(name, _PIN, dir_fd=self.stack[-1].fd)
        except FileNotFoundError:
            self.virtual.append(name)
            return None
        try:
            info = os.fstat(fd)
            if not stat.S_ISLNK(info.st_mode):
                self.stack.append(_Step(name, fd, info))
                fd = -1
                return None
            self.links += 1
            if self.links > MAX_SYMLINKS:
                raise TooManyLinks()
            link = os.readlink("", dir_fd=fd)  # the very link opened, not the name again
        finally:
            if fd >= 0:
                os.close(fd)
        if link.startswith("/"):
            self._leave([])
        return link

    def _logical(self) -> str:
        return _join(self.root, [step.name for step in self.stack[1:]] + self.virtual)

    def _blocked(self, pending: deque[str]) -> Target:
        blocked_by = self._logical()
        path = os.path.normpath(os.path.join(blocked_by, *pending))
        self.close()
        return Target(path, blocked_by=blocked_by)

    def _target(self) -> Target:
        path, stack = self._logical(), self.stack
        # Only the last two descriptors are needed; the rest go now.
        for step in stack[:-2]:
            os.close(step.fd)
        owned = [step.fd for step in stack[-2:]]
        self.stack = []
        if self.virtual:
            return Target(
                path,
                parent=stack[-1].fd,
                name=self.virtual[-1],
                missing=self.virtual[:-1],
                _owned=owned,
            )
        last = stack[-1]
        if len(stack) == 1:
            return Target(path, fd=last.fd, info=last.info, _owned=owned)
        return Target(
            path, fd=last.fd, info=last.info, parent=stack[-2].fd, name=last.name, _owned=owned
        )

    def close(self) -> None:
        while self.stack:
            os.close(self.stack.pop().fd)


def _open_root(root: str) -> int:
    """A descriptor of `root`, refusing a symlink anywhere on its path (roots are stored
    resolved, so one there now was put there since)."""
    fd = os.open("/", _PIN | os.O_DIRECTORY)
    try:
        for name in _parts(root):
            try:
                child = os.open(name, _PIN | os.O_DIRECTORY, dir_fd=fd)
            except OSError:
                raise RootUnusable(root) from None
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def _parts(path: str) -> tuple[str, ...]:
    return tuple(part for part in path.split("/") if part)


def _join(root: str, names: list[str]) -> str:
    return root.rstrip("/") + "".join("/" + name for name in names) or "/"


def _more(pending: deque[str]) -> bool:
    return any(part not in ("", ".") for part in pending)
