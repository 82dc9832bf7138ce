"""The unprivileged user a sandbox runs as, and the Python its executors run with.

A sandbox never runs as root: started as root, it switches to its own user. That user
must be able to run the executors' Python, which a Python installed under /root (a
pyenv, as on many development machines) is not. `make` therefore builds a second
virtualenv for sandboxes, `.venv-sandbox`, from the system's Python (/usr/bin/python3),
beside the main one; `sandbox_python()` finds it. Who starts sandboxes (`deskpilot up`,
the local sandbox provider, the sandbox itself) checks with `python_problem` that the
user can run the Python they will use, and refuses with the reason when not, instead of
falling back to root.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

SANDBOX_VENV = ".venv-sandbox"
EXECUTOR_MODULES = ("deskpilot.display", "deskpilot.shell")
_PROBE_TIMEOUT_SECONDS = 30
# Run by the sandbox user: which of the modules in argv it cannot find (exit code 1).
_PROBE = """
import importlib.util, sys
def found(name):
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # its parent package is missing
        return False
sys.exit(", ".join(name for name in sys.argv[1:] if not found(name)) or None)
"""


class SandboxUserError(RuntimeError):
    """The sandbox user cannot be created, or is root."""


def sandbox_python() -> str:
    """The Python sandboxes run their executors with: `.venv-sandbox` beside this
    process's virtualenv when it exists, else this Python."""
    beside = Path(sys.prefix).parent / SANDBOX_VENV / "bin" / "python"
    return str(beside) if beside.exists() else sys.executable


def ensure_user(name: str) -> pwd.struct_passwd:
    """The account `name`, created (a system user with its own group) when missing; never
    one with uid 0. Creating needs root."""
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        useradd = shutil.which("useradd") or "/usr/sbin/useradd"
        # -M: sandboxes give it a home of their own, not the account's default.
        created = subprocess.run(
            [useradd, "--system", "-M", "-U", "-s", "/bin/bash", "-d", f"/home/{name}", name],
            capture_output=True,
            text=True,
        )
        try:  # another sandbox starting at the same moment may have created it
            entry = pwd.getpwnam(name)
        except KeyError:
            raise SandboxUserError(f"cannot create user {name}: {created.stderr.strip()}") from None
    if entry.pw_uid == 0:
        raise SandboxUserError(f"user {name} has uid 0: a sandbox never runs as root")
    return entry


def unreachable_parent(path: Path, uid: int, gid: int) -> Path | None:
    """The first folder on the way to `path` that user `uid` (group `gid`) may not enter:
    above `path` as named, then above what it resolves to (a symlink's target)."""
    for way in (Path(os.path.abspath(path)), path.resolve()):
        for parent in reversed(way.parents):
            info = parent.stat()
            if info.st_uid == uid:
                allowed = info.st_mode & 0o100
            elif info.st_gid == gid:
                allowed = info.st_mode & 0o010
            else:
                allowed = info.st_mode & 0o001
            if not allowed:
                return parent
    return None


def missing_modules(
    python: str, user: pwd.struct_passwd | None, modules: tuple[str, ...]
) -> list[str]:
    """Which of `modules` are not installed for `python` when `user` runs it (None: this
    process's user). SandboxUserError when that user cannot run it at all."""
    who = user.pw_name if user is not None else "this user"
    path = Path(python)
    if path.is_absolute() and not path.exists():
        raise SandboxUserError(f"{python} does not exist")
    if user is not None and path.is_absolute():
        closed = unreachable_parent(path, user.pw_uid, user.pw_gid)
        if closed is not None:
            raise SandboxUserError(f"user {who} cannot run {python}: {closed} is closed to it")
    switch = (
        {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []} if user is not None else {}
    )
    try:
        done = subprocess.run(
            [python, "-c", _PROBE, *modules],
            capture_output=True, text=True, timeout=_PROBE_TIMEOUT_SECONDS, cwd="/",
            **switch,  # type: ignore[arg-type]
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError) as exc:
        raise SandboxUserError(f"user {who} cannot run {python}: {exc}") from None
    if done.returncode == 0:
        return []
    last = (done.stderr.strip().splitlines() or [""])[-1]
    if done.returncode == 1 and last and all(m in modules for m in last.split(", ")):
        return last.split(", ")
    raise SandboxUserError(f"user {who} cannot run {python}: {last or done.returncode}")


def python_problem(
    python: str, user: pwd.struct_passwd | None, modules: tuple[str, ...] = EXECUTOR_MODULES
) -> str | None:
    """Why `user` (None: this process's user) cannot run the executors with `python`;
    None when it can."""
    try:
        missing = missing_modules(python, user, modules)
    except SandboxUserError as exc:
        return str(exc)
    if missing:
        who = user.pw_name if user is not None else "this user"
        return f"{', '.join(missing)} not installed for {python} (run by {who})"
    return None
