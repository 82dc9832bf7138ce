"""Keep the executor's resident memory small between actions (glibc only; elsewhere a no-op).

Frames are ~8 MB each and every action captures several (each settle poll is one).
glibc's adaptive mmap threshold would soon keep such buffers on the heap (one heap per
thread), inflating RSS by tens of MB, so the threshold is fixed at 128 KiB (its default
before it adapts): frames, scaled frames and encoded screenshots are mapped and go back
to the system when freed. (Keeping them on the heap saves ~2 ms of page faults per
capture, but what the heap then keeps varies by up to 10 MB from run to run.) Frames can
also wait in cyclic garbage (futures and their callbacks) until the collector runs, so
`IdleTrim` collects and trims once the executor has been idle for a second (an agent
thinks for seconds between actions).
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import logging

log = logging.getLogger("deskpilot.display.memory")

_M_MMAP_THRESHOLD, _M_ARENA_MAX = -3, -8


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if not name:
        return None
    libc = ctypes.CDLL(name)
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


def tune_malloc() -> None:
    """Map big buffers and cap the number of heaps; call once at startup."""
    libc = _libc()
    if libc is not None:
        libc.mallopt(_M_MMAP_THRESHOLD, 128 << 10)
        libc.mallopt(_M_ARENA_MAX, 2)


class IdleTrim:
    """Returns free heap pages to the system `delay` seconds after the last `touch()`."""

    def __init__(self, delay: float = 1.0) -> None:
        self.delay = delay
        self._libc = _libc()
        self._handle: asyncio.TimerHandle | None = None
        self.trims = 0

    def touch(self) -> None:
        """Note activity (from the event loop thread); re-arms the timer."""
        if self._libc is None:
            return
        if self._handle is not None:
            self._handle.cancel()
        self._handle = asyncio.get_running_loop().call_later(self.delay, self._trim)

    def _trim(self) -> None:
        self._handle = None
        assert self._libc is not None
        # Cyclic garbage (futures and their callbacks) can still hold frames: collect it
        # first so that their memory is free to return.
        gc.collect()
        self._libc.malloc_trim(0)
        self.trims += 1

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
