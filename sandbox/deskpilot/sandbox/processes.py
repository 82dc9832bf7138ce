"""Child processes of the sandbox, each in its own process group so that stopping one
also stops what it launched (an app started from the panel, a shell's children).

Every child also dies with the sandbox process, even when that is killed with SIGKILL and
cannot stop anything: the kernel sends the child SIGKILL when its parent ends
(`PR_SET_PDEATHSIG`). The kernel ties that to the thread that started the child, so
children are started from the main thread, which lives as long as the process.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from deskpilot.sandbox.users import DesktopUser

_STOP_TIMEOUT_SECONDS = 5.0
_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


def dying_with_this_process() -> Callable[[], None]:
    """A `preexec_fn` that makes the child die (SIGKILL) when this process ends.

    It runs in the child after the user switch (which would clear the setting) and
    before exec. If this process died before the setting took hold, the child stops
    at once instead of living on as an orphan."""
    parent = os.getpid()

    def set_parent_death_signal() -> None:
        if _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL) != 0:
            os._exit(127)
        if os.getppid() != parent:
            os._exit(1)

    return set_parent_death_signal


class Child:
    """One started process; its output goes to `log_path`."""

    def __init__(
        self,
        name: str,
        args: Sequence[str],
        *,
        env: Mapping[str, str],
        user: DesktopUser,
        cwd: Path,
        log_path: Path,
    ) -> None:
        self.name = name
        self.log_path = log_path
        with log_path.open("ab") as log:
            self.process = subprocess.Popen(
                list(args),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(env),
                cwd=cwd,
                start_new_session=True,  # own process group, see the module doc
                preexec_fn=dying_with_this_process(),
                **user.popen_kwargs(),  # type: ignore[arg-type]
            )
        self.pid = self.process.pid

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, chars: int = 1500) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except FileNotFoundError:
            return ""

    def stop(self) -> None:
        """SIGTERM the process group, SIGKILL it after a grace period; reap the process."""
        self._signal_group(signal.SIGTERM)
        try:
            self.process.wait(timeout=_STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)
            self.process.wait()
        # Anything it launched into its group that ignored SIGTERM goes too.
        deadline = time.monotonic() + 1.0
        while _group_alive(self.pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        self._signal_group(signal.SIGKILL)

    def _signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True
