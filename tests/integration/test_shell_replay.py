"""Idempotency keys against the real Shell service: a keyed command or edit runs once,
also when its caller goes away mid-way, and a repeat gets its real outcome (or an explicit
outcome-unknown answer), never a second run. Keys and stored results are bounded."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import tracemalloc
from pathlib import Path

import grpc
import pytest
from google.protobuf import struct_pb2

from deskpilot.common.replay import MAX_KEY_BYTES
from deskpilot.orchestrator.sandboxes.client import SandboxClient
from deskpilot.orchestrator.tools import TOOL_SETS, Executor
from deskpilot.v1 import common_pb2, session_pb2, shell_pb2
from tests.fixtures.shell import ShellHandle, running_shell


def keyed(command: str, key: str) -> shell_pb2.BashRequest:
    return shell_pb2.BashRequest(
        command=shell_pb2.BashCommand(command=command), idempotency_key=key, timeout_seconds=30
    )


async def until(condition: object, timeout: float = 10) -> None:
    for _ in range(int(timeout / 0.01)):
        if condition():  # type: ignore[operator]
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition never held")


def head(path: Path) -> str:
    with path.open() as f:
        return f.read(200)


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


async def test_a_keyed_command_outlives_its_caller_and_runs_once(shell: ShellHandle) -> None:
    log = shell.home / "runs.log"
    request = keyed(f"echo run >> {log}; sleep 0.5; echo finished", "step-1")
    first = shell.stub.Bash(request)
    await until(lambda: lines(log) == ["run"])
    first.cancel()  # the caller goes away while the command runs
    with pytest.raises(asyncio.CancelledError):
        await first
    again = await shell.stub.Bash(request)
    assert (again.stdout, again.exit_code, again.replayed) == ("finished\n", 0, True)
    assert not again.outcome_unknown
    assert lines(log) == ["run"]


async def test_a_keyed_stream_outlives_its_caller_and_runs_once(shell: ShellHandle) -> None:
    log = shell.home / "runs.log"
    request = keyed(f"echo run >> {log}; echo started; sleep 0.5; echo finished", "stream-1")
    stream = shell.stub.BashStream(shell_pb2.BashStreamRequest(request=request))
    first = await stream.read()
    assert first.chunk.text == "started\n"
    stream.cancel()
    again = await shell.stub.Bash(request)
    assert (again.stdout, again.replayed) == ("started\nfinished\n", True)
    assert lines(log) == ["run"]


async def test_a_command_without_a_key_still_ends_with_its_caller(shell: ShellHandle) -> None:
    log = shell.home / "runs.log"
    request = keyed(f"echo run >> {log}; sleep 30 && echo never >> {log}", "")
    first = shell.stub.Bash(request)
    await until(lambda: lines(log) == ["run"])
    first.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await first
    assert (await shell.stub.Bash(keyed("echo free", ""))).stdout == "free\n"
    assert lines(log) == ["run"]


async def test_a_keyed_edit_cut_off_mid_way_is_made_once(shell: ShellHandle) -> None:
    """The caller's deadline falls somewhere in the edit of a large file (where exactly
    does not matter): the repeat must find the file edited exactly once."""
    path = shell.home / "big.txt"
    path.write_text("filler line\n" * 700_000)  # 8.4 MB: the edit takes a while
    for attempt, deadline in enumerate((0.002, 0.005, 0.01, 0.02, 0.05)):
        insert = shell_pb2.InsertCommand(
            path=str(path), insert_line=0, insert_text=f"marker {attempt}"
        )
        request = shell_pb2.EditRequest(
            command=shell_pb2.EditCommand(insert=insert), idempotency_key=f"insert-{attempt}"
        )
        with contextlib.suppress(grpc.aio.AioRpcError):
            await shell.stub.Edit(request, timeout=deadline)
        # Let an edit that was cut off finish (if it got that far) before the repeat.
        with contextlib.suppress(AssertionError):
            await until(lambda attempt=attempt: f"marker {attempt}\n" in head(path), timeout=1)
        again = await shell.stub.Edit(request)
        assert again.changed and not again.outcome_unknown
        assert [line for line in head(path).splitlines() if line.startswith("marker")] == [
            f"marker {n}" for n in range(attempt, -1, -1)
        ]


@pytest.mark.parametrize("rpc", ["Bash", "BashStream", "Edit"])
async def test_a_key_over_the_limit_is_invalid_argument(shell: ShellHandle, rpc: str) -> None:
    key = "k" * (MAX_KEY_BYTES + 1)
    view = shell_pb2.EditCommand(view=shell_pb2.ViewCommand(path=str(shell.home)))
    with pytest.raises(grpc.aio.AioRpcError) as error:
        if rpc == "Bash":
            await shell.stub.Bash(keyed("echo hi", key))
        elif rpc == "BashStream":
            stream = shell.stub.BashStream(shell_pb2.BashStreamRequest(request=keyed("ls", key)))
            await stream.read()
        else:
            await shell.stub.Edit(shell_pb2.EditRequest(command=view, idempotency_key=key))
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert f"idempotency_key is {MAX_KEY_BYTES + 1} bytes" in error.value.details()
    assert f"limit is {MAX_KEY_BYTES} bytes" in error.value.details()
    # The longest allowed key works.
    assert (await shell.stub.Bash(keyed("echo hi", "k" * MAX_KEY_BYTES))).stdout == "hi\n"


async def test_big_requests_with_many_keys_keep_only_digests(shell: ShellHandle) -> None:
    """Each request is 1 MiB; what the service keeps per key is a few hundred bytes."""
    filler = ("x" * 63 + "\n") * 2**14  # 1 MiB
    for index in range(20):
        create = shell_pb2.CreateCommand(path=str(shell.home / f"big-{index}"), file_text=filler)
        await shell.stub.Edit(
            shell_pb2.EditRequest(
                command=shell_pb2.EditCommand(create=create), idempotency_key=f"big-{index}"
            )
        )
    replays = shell.servicer.edit_replays
    assert replays.stored == 20
    assert replays.stored_bytes < 20 * 1024


async def test_refused_big_requests_are_not_kept_either(shell: ShellHandle) -> None:
    """A refusal is kept to be repeated; what it was raised with (the request, the file's
    text) must not be kept with it."""
    path = shell.home / "small.txt"
    path.write_text("small\n")
    filler = "x" * 2**20
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for index in range(20):
            absent = shell_pb2.StrReplaceCommand(path=str(path), old_str=f"{index}{filler}")
            request = shell_pb2.EditRequest(
                command=shell_pb2.EditCommand(str_replace=absent), idempotency_key=f"no-{index}"
            )
            with pytest.raises(grpc.aio.AioRpcError):
                await shell.stub.Edit(request)
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert shell.servicer.edit_replays.stored == 20
    # Kept for each one, they would be over 20 MiB; the last one may still be around.
    assert kept < 3 * 2**20, f"{kept} bytes kept for 20 refused requests"


async def test_a_repeat_of_a_forgotten_key_is_outcome_unknown_not_a_second_run(
    tmp_path: Path,
) -> None:
    async with running_shell(tmp_path, idempotency_entries=1) as shell:
        log = shell.home / "runs.log"
        first = keyed(f"echo a >> {log}", "a")
        await shell.stub.Bash(first)
        await shell.stub.Bash(keyed(f"echo b >> {log}", "b"))  # pushes "a" out of the cache
        again = await shell.stub.Bash(first)
        assert (again.replayed, again.outcome_unknown) == (True, True)
        assert "no longer kept" in again.note and "may or may not" in again.note
        assert lines(log) == ["a", "b"]


async def test_the_orchestrator_tells_the_model_when_the_outcome_is_unknown(
    tmp_path: Path,
) -> None:
    async with running_shell(tmp_path, idempotency_entries=1) as shell:
        endpoints = session_pb2.SandboxEndpoints(shell_address=shell.address)
        client = SandboxClient(endpoints, TOOL_SETS[session_pb2.TOOL_SET_20250124])
        try:
            log = shell.home / "runs.log"
            arguments = struct_pb2.Struct()
            arguments.update({"command": f"echo once >> {log}"})
            call = common_pb2.ToolCall(name="bash", tool_type="bash_20250124", input=arguments)
            done = await client.run(Executor.BASH, call, "session.toolu_1")
            assert not done.is_error
            other = common_pb2.ToolCall(name="bash", input=struct_pb2.Struct())
            other.input.update({"command": "true"})
            await client.run(Executor.BASH, other, "session.toolu_2")
            outcome = await client.run(Executor.BASH, call, "session.toolu_1")
        finally:
            await client.close()
        assert outcome.is_error and outcome.replayed
        assert "outcome of this action is unknown" in outcome.text
        assert "Check the current state first" in outcome.text
        assert lines(log) == ["once"]
