"""The replay cache both executors use: a key that was seen never runs again, whatever
happened to its first caller, and memory stays within its bounds."""

from __future__ import annotations

import asyncio

import pytest

from deskpilot.common.errors import InvalidArgument, ResourceExhausted, Unavailable
from deskpilot.common.replay import MAX_KEY_BYTES, MAX_RUNNING, ReplayCache
from deskpilot.v1 import shell_pb2


def request(command: str = "echo hi", key: str = "k") -> shell_pb2.BashRequest:
    return shell_pb2.BashRequest(
        command=shell_pb2.BashCommand(command=command), idempotency_key=key
    )


def cache(**bounds: int) -> ReplayCache[shell_pb2.BashResponse]:
    bounds.setdefault("max_results", 100)
    return ReplayCache(
        shell_pb2.BashResponse, lambda why: shell_pb2.BashResponse(note=why), **bounds
    )


async def let_tasks_start() -> None:
    """A few turns of the event loop, so the tasks created so far reach their first wait."""
    for _ in range(5):
        await asyncio.sleep(0)


class Work:
    """Something to run once per key, counting its runs; `gate` holds it until opened."""

    def __init__(self, output: str = "ran", *, fail: Exception | None = None) -> None:
        self.runs = 0
        self.output = output
        self.fail = fail
        self.gate = asyncio.Event()
        self.gate.set()

    async def __call__(self) -> shell_pb2.BashResponse:
        self.runs += 1
        await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        return shell_pb2.BashResponse(stdout=self.output)


async def test_a_repeat_gets_the_first_result_without_running_again() -> None:
    replays, work = cache(), Work()
    first = await replays.run("k", request(), work)
    again = await replays.run("k", request(), work)
    assert (first.stdout, first.replayed, again.stdout, again.replayed) == (
        "ran",
        False,
        "ran",
        True,
    )
    assert work.runs == 1


async def test_the_first_run_outlives_its_caller_and_the_repeat_gets_its_result() -> None:
    replays, work = cache(), Work()
    work.gate.clear()
    caller = asyncio.create_task(replays.run("k", request(), work))
    await let_tasks_start()  # the work has started
    caller.cancel()  # the caller goes away (its connection dropped)
    with pytest.raises(asyncio.CancelledError):
        await caller
    repeat = asyncio.create_task(replays.run("k", request(), work))
    await let_tasks_start()
    assert not repeat.done()  # it waits for the first run instead of starting another
    work.gate.set()
    again = await repeat
    assert (again.stdout, again.replayed, again.outcome_unknown) == ("ran", True, False)
    assert work.runs == 1


async def test_a_repeat_that_gives_up_waiting_leaves_the_first_run_alone() -> None:
    replays, work = cache(), Work()
    work.gate.clear()
    first = asyncio.create_task(replays.run("k", request(), work))
    await let_tasks_start()
    repeat = asyncio.create_task(replays.run("k", request(), work))
    await let_tasks_start()
    repeat.cancel()
    with pytest.raises(asyncio.CancelledError):
        await repeat
    work.gate.set()
    assert (await first).stdout == "ran"


async def test_an_interrupted_first_run_makes_the_repeat_answer_outcome_unknown() -> None:
    replays, work = cache(), Work()
    work.gate.clear()
    caller = asyncio.create_task(replays.run("k", request(), work))
    await let_tasks_start()
    await replays.cancel_running()  # e.g. the service is stopping
    with pytest.raises(asyncio.CancelledError):
        await caller
    again = await replays.run("k", request(), work)
    assert (again.replayed, again.outcome_unknown) == (True, True)
    assert "interrupted" in again.note and "may or may not" in again.note
    assert work.runs == 1


async def test_a_failure_part_way_is_outcome_unknown_and_a_refusal_is_repeated() -> None:
    replays = cache()
    broken = Work(fail=Unavailable("X display :9 is not answering"))
    with pytest.raises(Unavailable):
        await replays.run("broken", request(), broken)
    again = await replays.run("broken", request(), broken)
    assert again.outcome_unknown and "UNAVAILABLE" in again.note
    crashed = Work(fail=RuntimeError("bug"))
    with pytest.raises(RuntimeError):
        await replays.run("crashed", request(), crashed)
    assert (await replays.run("crashed", request(), crashed)).outcome_unknown
    # A refusal comes before anything is done: the repeat is refused the same way.
    refused = Work(fail=InvalidArgument("`command` is empty"))
    for _ in range(2):
        with pytest.raises(InvalidArgument, match="is empty"):
            await replays.run("refused", request(), refused)
    assert (broken.runs, crashed.runs, refused.runs) == (1, 1, 1)


async def test_reusing_a_key_for_another_request_is_invalid_argument() -> None:
    replays, work = cache(max_results=1), Work()
    await replays.run("k", request("echo one"), work)
    with pytest.raises(InvalidArgument, match="different request"):
        await replays.run("k", request("echo two"), work)
    await replays.run("other", request(), work)  # "k" is forgotten now, and still checked
    with pytest.raises(InvalidArgument, match="different request"):
        await replays.run("k", request("echo two"), work)
    assert work.runs == 2


async def test_keys_are_bounded_in_length() -> None:
    replays, work = cache(), Work()
    await replays.run("k" * MAX_KEY_BYTES, request(), work)
    for key in ("k" * (MAX_KEY_BYTES + 1), "é" * (MAX_KEY_BYTES // 2 + 1), "k" * 2**20):
        with pytest.raises(InvalidArgument) as error:
            await replays.run(key, request(), work)
        assert f"the limit is {MAX_KEY_BYTES} bytes" in error.value.message
        assert "idempotency_key" in error.value.message
    assert work.runs == 1


async def test_results_are_bounded_by_count_and_a_forgotten_key_never_runs_again() -> None:
    replays, work = cache(max_results=3), Work()
    for index in range(10):
        await replays.run(f"k{index}", request(), work)
    assert (replays.stored, replays.forgotten) == (3, 7)
    again = await replays.run("k0", request(), work)
    assert again.outcome_unknown and "no longer kept" in again.note
    assert (await replays.run("k9", request(), work)).stdout == "ran"
    assert work.runs == 10


async def test_results_are_bounded_by_bytes() -> None:
    replays = cache(max_bytes=20_000)
    work = Work("x" * 5_000)
    for index in range(20):
        await replays.run(f"k{index}", request(), work)
        assert replays.stored_bytes <= 20_000
    assert 1 <= replays.stored < 4
    # A result larger than the whole budget is handed to its caller, then forgotten.
    huge = Work("y" * 50_000)
    assert (await replays.run("huge", request(), huge)).stdout == huge.output
    assert replays.stored_bytes <= 20_000
    assert (await replays.run("huge", request(), huge)).outcome_unknown
    assert (work.runs, huge.runs) == (20, 1)


async def test_a_running_first_run_is_never_evicted() -> None:
    replays, slow, quick = cache(max_results=1), Work("slow"), Work()
    slow.gate.clear()
    first = asyncio.create_task(replays.run("slow", request(), slow))
    await let_tasks_start()
    for index in range(5):
        await replays.run(f"quick{index}", request(), quick)
    slow.gate.set()
    assert (await first).stdout == "slow"
    again = await replays.run("slow", request(), slow)
    assert (again.stdout, again.replayed) == ("slow", True)
    assert slow.runs == 1


async def test_first_runs_at_once_are_bounded() -> None:
    replays, work = cache(), Work()
    work.gate.clear()
    running = [
        asyncio.create_task(replays.run(f"k{i}", request(), work)) for i in range(MAX_RUNNING)
    ]
    await let_tasks_start()
    with pytest.raises(ResourceExhausted, match=f"at once \\({MAX_RUNNING}\\)"):
        await replays.run("one-more", request(), work)
    work.gate.set()
    await asyncio.gather(*running)
    assert (await replays.run("one-more", request(), work)).stdout == "ran"


async def test_without_a_key_nothing_is_kept_and_a_leaving_caller_ends_the_work() -> None:
    replays, work = cache(), Work()
    work.gate.clear()
    caller = asyncio.create_task(replays.run("", request(key=""), work))
    await let_tasks_start()
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    work.gate.set()
    await replays.run("", request(key=""), work)
    assert (work.runs, replays.stored) == (2, 0)
