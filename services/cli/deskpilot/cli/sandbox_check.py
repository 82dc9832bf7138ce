"""Before `deskpilot up` starts anything: can its local sandboxes run unprivileged?

Run as root, the stack's sandboxes run as the sandbox user, whose executors need a
Python that user can run. Where it cannot (a Python under /root, and no `.venv-sandbox`),
every session would fail to get a desktop, and running sandboxes as root instead would
hand the model the machine: `deskpilot up` refuses to start and says how to fix it.
Run as anyone else, sandboxes run as that user, who then shares everything with the
model: `deskpilot up` says so.
"""

from __future__ import annotations

import os
import pwd

from deskpilot.cli.stack import UpSettings
from deskpilot.common.sandbox_user import (
    SandboxUserError,
    ensure_user,
    python_problem,
    sandbox_python,
)


def sandbox_problem(settings: UpSettings) -> str | None:
    """Why local sandboxes could not run as the sandbox user; None when they can (or the
    stack does not run as root, so they run as its own user)."""
    if os.geteuid() != 0:
        return None
    try:
        user = ensure_user(settings.sandbox_user)
    except SandboxUserError as exc:
        return f"local sandboxes cannot run unprivileged: {exc}"
    python = settings.sandbox_python or sandbox_python()
    problem = python_problem(python, user)
    if problem is None:
        return None
    return (
        f"local sandboxes never run as root, and {problem}: run `make sandbox-venv` (a "
        "virtualenv of /usr/bin/python3 with the executors, in a checkout that user can "
        "read), or give --sandbox-python a Python it can run with deskpilot-display and "
        "deskpilot-shell installed"
    )


def shared_user_notice() -> str | None:
    """What to tell a user who runs the stack as themselves (not root)."""
    if os.geteuid() == 0:
        return None
    name = pwd.getpwuid(os.geteuid()).pw_name
    return (
        f"WARNING: not run as root, sandboxes run as {name}, like this stack: the model's "
        f"shell can read whatever {name} can (your files, and the environment of your "
        "processes, API key included). Run as root for sandboxes with a user of their own"
    )
