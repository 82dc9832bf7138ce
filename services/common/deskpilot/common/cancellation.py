"""Honouring a cancellation that Python 3.11 dropped.

On 3.11, `asyncio.wait_for` returns the awaited result and drops the cancellation when
both land in the same loop iteration (CPython gh-86296, fixed in 3.12). nats-py waits for
every request's reply that way, so a task cancelled during a NATS round trip can carry on
as if nothing happened — and then wait for something that never comes. The request stays
counted in `Task.cancelling()`, so long-running loops call `raise_if_cancelled()` before
they wait again.
"""

from __future__ import annotations

import asyncio


def raise_if_cancelled() -> None:
    """Raise CancelledError if the current task has a cancellation request that was not
    delivered (or was swallowed)."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
