"""`python -m deskpilot.display`: serve the Display gRPC service for one X display."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util

from deskpilot.common.grpc_server import ServiceBinding
from deskpilot.common.service import run_service
from deskpilot.display.executor import DisplayExecutor
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


def _tune_malloc() -> None:
    """Return big frame buffers to the system when freed.

    Frames are ~8 MB each; glibc's adaptive mmap threshold would soon keep them on the
    heap (and one heap per thread), inflating RSS by tens of MB for nothing.
    """
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return
    libc = ctypes.CDLL(libc_name)
    if hasattr(libc, "mallopt"):
        m_mmap_threshold, m_arena_max = -3, -8
        libc.mallopt(m_mmap_threshold, 1 << 20)
        libc.mallopt(m_arena_max, 2)


def main() -> None:
    _tune_malloc()
    run_service(DisplaySettings, build)


if __name__ == "__main__":
    main()
