"""The idle trim returns heap memory once after a burst of activity, not per request."""

from __future__ import annotations

import asyncio

import pytest

from deskpilot.display.memory import IdleTrim


async def test_one_trim_after_a_burst_of_activity() -> None:
    trim = IdleTrim(delay=0.02)
    if trim._libc is None:
        pytest.skip("not glibc: trimming is a no-op")
    for _ in range(5):
        trim.touch()
    assert trim.trims == 0  # nothing while active
    await asyncio.sleep(0.2)
    assert trim.trims == 1
    trim.touch()
    trim.cancel()
    await asyncio.sleep(0.1)
    assert trim.trims == 1  # cancelled (executor closed): no trim
