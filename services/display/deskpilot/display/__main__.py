"""`python -m deskpilot.display`: serve the Display gRPC service for one X display."""

from __future__ import annotations

import contextlib

from deskpilot.common.executor import credential_guard
from deskpilot.common.grpc_server import ServiceBinding
from deskpilot.common.service import run_service
from deskpilot.display.executor import DisplayExecutor
from deskpilot.display.memory import tune_malloc
from deskpilot.display.service import display_binding
from deskpilot.display.settings import DisplaySettings


async def build(
    settings: DisplaySettings, stack: contextlib.AsyncExitStack
) -> list[ServiceBinding]:
    """Connect to the X display; it is released after the server has stopped."""
    executor = DisplayExecutor(settings)
    await executor.open()
    stack.push_async_callback(executor.close)
    return [display_binding(executor)]


def main() -> None:
    tune_malloc()
    run_service(DisplaySettings, build, interceptors=credential_guard)


if __name__ == "__main__":
    main()
