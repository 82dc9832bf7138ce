"""A cancellation dropped by asyncio.wait_for (Python 3.11) is still honoured."""

from __future__ import annotations

import asyncio

from deskpilot.common.cancellation import raise_if_cancelled


async def test_a_cancellation_dropped_by_wait_for_is_raised_at_the_next_check() -> None:
    reply: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    carried_on = False

    async def worker() -> None:
        nonlocal carried_on
        await asyncio.wait_for(reply, 10)  # how nats-py waits for every reply
        carried_on = True  # on 3.11 the cancel below is dropped and we get here
        raise_if_cancelled()
        await asyncio.sleep(3600)  # without the check: waits on, cancelled or not

    task = asyncio.create_task(worker())
    await asyncio.sleep(0)  # the worker now waits for the reply
    reply.set_result(None)  # the reply and the cancellation land in the same iteration
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=5)
    assert task in done and task.cancelled()
    if carried_on:  # the interpreter dropped it: the check is what stopped the worker
        assert task.cancelling() >= 1


async def test_without_a_cancellation_request_nothing_is_raised() -> None:
    raise_if_cancelled()
    assert await asyncio.wait_for(asyncio.sleep(0, "done"), 1) == "done"
    raise_if_cancelled()
