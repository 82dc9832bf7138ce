"""Start one component of the stack's description as a child process and wait until it
is ready: for tests and benchmarks that run parts of the stack as real processes, wired
the way `deskpilot up` wires them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from deskpilot.cli.components import command_for, component
from deskpilot.cli.serving import until_serving
from deskpilot.common.processes import AsyncChild, spawn_async
from deskpilot.common.readiness import until_ready

# The health check reports its own timeout with its last error; the process watch gives
# it this long to do so.
_CHECK_REPORT_SECONDS = 2.0
_FAILED_START_GRACE_SECONDS = 2.0


async def start_component(
    name: str,
    addresses: Mapping[str, str],
    extra: Sequence[str] = (),
    *,
    log_path: Path | None = None,
    env: Mapping[str, str] | None = None,
    pass_fds: Sequence[int] = (),
    timeout: float = 60.0,
) -> AsyncChild:
    """`name` listening at `addresses[name]`, wired to its dependencies there (see
    `components.command_for`), in its own session; returns once it is ready. Its output
    goes to `log_path` (else this process's); `pass_fds` it inherits (an executor's
    credential pipe). NotReady, with its last output, when it
    exits or is not ready within `timeout` seconds; it is stopped then."""
    invocation = command_for(name, addresses, extra)
    child = await spawn_async(
        name,
        invocation.argv,
        env={**os.environ, **(env or {}), **invocation.env},
        log_path=log_path,
        pass_fds=pass_fds,
    )
    ready = until_serving(component(name).serves, addresses[name], timeout)
    try:
        await until_ready(child, ready, timeout=timeout + _CHECK_REPORT_SECONDS)
    except BaseException:  # NotReady, or cancelled: nothing is left running
        await child.stop(_FAILED_START_GRACE_SECONDS)
        raise
    return child
