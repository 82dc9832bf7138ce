"""The unprivileged desktop user: who runs the sandbox's processes, and its home folder.

Started as root, a sandbox always switches to its user (created if missing; never one
with uid 0). Started as anyone else, it runs as that user.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from deskpilot.common.sandbox_user import ensure_user, unreachable_parent


@dataclass(frozen=True)
class DesktopUser:
    """Who the sandbox's processes run as. `name` is None when no switch is needed."""

    name: str | None
    uid: int
    gid: int
    home: Path

    @property
    def switches(self) -> bool:
        return self.name is not None

    def popen_kwargs(self) -> dict[str, object]:
        """subprocess.Popen arguments that run a child as this user."""
        if not self.switches:
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": []}

    def own(self, path: Path) -> None:
        if self.switches:
            os.chown(path, self.uid, self.gid)

    def unreachable_parent(self, path: Path) -> Path | None:
        """The first folder above `path` this user may not enter, or None if all are fine."""
        if not self.switches:
            return None
        return unreachable_parent(path, self.uid, self.gid)


def desktop_user(name: str, home: str) -> DesktopUser:
    """Resolve (and, as root, create) the user the sandbox runs as, with `home` as home."""
    if os.geteuid() != 0:
        home_path = Path(home)
        home_path.mkdir(parents=True, exist_ok=True)
        return DesktopUser(None, os.getuid(), os.getgid(), home_path)
    if not name:
        raise RuntimeError("started as root, a sandbox needs --user: it never runs as root")
    entry = ensure_user(name)
    home_path = Path(home)
    home_path.mkdir(parents=True, exist_ok=True)
    os.chown(home_path, entry.pw_uid, entry.pw_gid)
    home_path.chmod(0o700)
    return DesktopUser(name, entry.pw_uid, entry.pw_gid, home_path)
