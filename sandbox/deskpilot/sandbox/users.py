"""The unprivileged desktop user: create it when missing and prepare its home folder."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path


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
        for parent in reversed(path.resolve().parents):
            info = parent.stat()
            if info.st_uid == self.uid:
                allowed = info.st_mode & 0o100
            elif info.st_gid == self.gid:
                allowed = info.st_mode & 0o010
            else:
                allowed = info.st_mode & 0o001
            if not allowed:
                return parent
        return None


def desktop_user(name: str, home: str) -> DesktopUser:
    """Resolve (and, as root, create) the user the sandbox runs as, with `home` as home."""
    if os.geteuid() != 0 or not name:
        home_path = Path(home)
        home_path.mkdir(parents=True, exist_ok=True)
        return DesktopUser(None, os.getuid(), os.getgid(), home_path)
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        useradd = shutil.which("useradd") or "/usr/sbin/useradd"
        # -M: the home is per sandbox (created below), not the account's default.
        created = subprocess.run(
            [useradd, "--system", "-M", "-U", "-s", "/bin/bash", "-d", f"/home/{name}", name],
            capture_output=True,
            text=True,
        )
        try:  # another sandbox starting at the same moment may have created it
            entry = pwd.getpwnam(name)
        except KeyError:
            raise RuntimeError(f"cannot create user {name}: {created.stderr.strip()}") from None
    home_path = Path(home)
    home_path.mkdir(parents=True, exist_ok=True)
    os.chown(home_path, entry.pw_uid, entry.pw_gid)
    home_path.chmod(0o700)
    return DesktopUser(name, entry.pw_uid, entry.pw_gid, home_path)
