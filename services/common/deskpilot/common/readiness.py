"""Waiting for a child process to be ready: a health check, a ready line, or a condition
polled, each with a deadline. A child that exits first, a check that fails or a deadline
that passes is `NotReady`, whose message names the child, says what happened and ends
with what the child printed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from deskpilot.common.processes import AsyncChild, Child, PopenChild, exit_description

T = TypeVar("T")
_POLL_SECONDS = 0.02


class NotReady(RuntimeError):
    """A child process did not become ready."""


async def until_ready(
    child: Child, ready: Awaitable[T], *, timeout: float, waiting_for: str = ""
) -> T:
    """What `ready` returns, unless the child exits first, `ready` fails (TimeoutError,
    OSError, ValueError) or `timeout` seconds pass: then NotReady. The child keeps running
    either way; stopping it is the caller's decision."""
    check = asyncio.ensure_future(ready)
    exited = asyncio.ensure_future(child.exited())
    try:
        done, _ = await asyncio.wait(
            {check, exited}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        check.cancel()
        exited.cancel()
    if exited in done:
        await child.output_settled()
        raise not_ready(child, f"{exit_description(exited.result())} while starting")
    if check in done:
        try:
            return check.result()
        except (TimeoutError, OSError, ValueError) as exc:
            raise not_ready(child, f": {exc}") from None
    raise not_ready(child, f": not ready after {timeout:g} s" + _about(waiting_for))


def wait_until(
    child: PopenChild, check: Callable[[], bool], *, timeout: float, waiting_for: str
) -> None:
    """Block until `check()` is true, the child exits, or `timeout` seconds pass (NotReady).

    A child that has exited is never ready, even if `check` would pass (someone else may
    answer on its port)."""
    deadline = time.monotonic() + timeout
    while True:
        code = child.returncode
        if code is not None:
            raise not_ready(child, f"{exit_description(code)} while starting")
        if check():
            return
        if time.monotonic() >= deadline:
            raise not_ready(child, f": not ready after {timeout:g} s" + _about(waiting_for))
        time.sleep(_POLL_SECONDS)


async def polled(check: Callable[[], bool]) -> None:
    """Until `check()` (blocking, e.g. a socket probe; run in a thread) is true."""
    while not await asyncio.to_thread(check):  # noqa: ASYNC110 - a condition outside us
        await asyncio.sleep(_POLL_SECONDS)


async def ready_line(child: AsyncChild, parse: Callable[[str], T | None]) -> T:
    """The first line of the child's stdout that `parse` accepts (returns not None).

    When stdout closes first, it waits for the child to end, which `until_ready` reports
    with the exit code."""
    async for line in child.lines():
        parsed = parse(line)
        if parsed is not None:
            return parsed
    await child.exited()
    raise ValueError(f"{child.name} closed its output without a ready line")


def not_ready(child: Child, what: str) -> NotReady:
    """NotReady for `child`: its name, `what` happened, and the end of its output."""
    tail = child.output_tail()
    where = f" (log {child.log_path})" if child.log_path is not None else ""
    if not tail.strip():
        return NotReady(f"{child.name}{_spaced(what)}; it printed nothing{where}")
    return NotReady(f"{child.name}{_spaced(what)}; its last output{where}:\n{tail}")


def _spaced(what: str) -> str:
    return what if what.startswith(":") else f" {what}"


def _about(waiting_for: str) -> str:
    return f" ({waiting_for})" if waiting_for else ""
