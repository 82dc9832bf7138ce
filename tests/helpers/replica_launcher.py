"""Starts orchestrator replicas as forks of one process that has already imported them.

Importing the orchestrator costs seconds of CPU; a fork of a process that has done so
starts serving in a fraction of that, so a test can kill replicas with SIGKILL and start
new ones many times over. Each replica is a real process of its own (its own session,
sockets and event loop) running the same `run_service` as `python -m deskpilot.orchestrator`.
The launcher forks before any thread or gRPC channel exists, so the fork is clean.

Protocol: one JSON object per line on stdin, `{"argv": [...], "env": {...}, "log": path}`;
the started replica's pid comes back as one line on stdout. EOF on stdin ends the
launcher; the replicas are the caller's to kill.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import traceback
from typing import Any

from deskpilot.common.service import run_service
from deskpilot.orchestrator.service import build
from deskpilot.orchestrator.settings import OrchestratorSettings


def main() -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps the replicas
    for line in sys.stdin:
        order = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _replica(order)
        print(pid, flush=True)


def _replica(order: dict[str, Any]) -> None:
    code = 1
    try:
        os.setsid()  # its own process group, so killpg hits exactly this replica
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        null = os.open(os.devnull, os.O_RDWR)
        log = os.open(order["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(null, 0)
        os.dup2(null, 1)
        os.dup2(log, 2)
        os.environ.update(order["env"])
        run_service(OrchestratorSettings, build, order["argv"])
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - whatever it was, the log shows it
        traceback.print_exc()
    finally:
        os._exit(code)


if __name__ == "__main__":
    main()
