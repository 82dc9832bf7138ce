"""The process toolkit against real processes: stopping escalates to SIGKILL and takes the
whole process group, always reaps and may be repeated; readiness errors name the program
and quote what it printed; children die with their parent when asked; adopted processes
are reached through a pidfd; SIGINT and SIGTERM end `stop_event` runs."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from deskpilot.common.processes import PIPE, STDOUT, adopt, exit_description, spawn, spawn_async
from deskpilot.common.readiness import NotReady, ready_line, until_ready, wait_until
from tests.helpers.processes import alive, gone_soon

IGNORES_SIGTERM = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "


def _python(code: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(code)]


def _command_line(pid: int) -> bytes:
    return Path(f"/proc/{pid}/cmdline").read_bytes()


def _number(line: str) -> int | None:
    return int(line) if line.isdigit() else None


async def test_a_child_that_ignores_sigterm_is_killed_after_the_grace() -> None:
    child = await spawn_async(
        "stubborn",
        _python(IGNORES_SIGTERM + "print('ready', flush=True); time.sleep(60)"),
        stdout=PIPE,
    )
    assert await ready_line(child, lambda line: line == "ready" or None)
    await child.stop(grace=0.3)
    assert child.returncode == -signal.SIGKILL
    assert not alive(child.pid)


@pytest.mark.parametrize("blocking", [False, True], ids=["async", "blocking"])
async def test_a_grandchild_in_the_group_dies_too(blocking: bool, tmp_path: Path) -> None:
    # The child ends on SIGTERM; the grandchild it started ignores it, so only the group
    # SIGKILL after the grace ends it.
    grandchild_code = IGNORES_SIGTERM + "time.sleep(60)"
    parent_code = f"""
        import subprocess, sys, time
        grandchild = subprocess.Popen([sys.executable, "-c", {grandchild_code!r}])
        print(grandchild.pid, flush=True)
        time.sleep(60)
    """
    log = tmp_path / "family.log"
    child = spawn("family", _python(parent_code), log_path=log)
    wait_until(child, lambda: log.read_text().strip().isdigit(), timeout=30, waiting_for="pid")
    grandchild = int(log.read_text())
    assert alive(grandchild)
    if blocking:
        child.stop_blocking(grace=0.5)
    else:
        await child.stop(grace=0.5)
    assert child.returncode == -signal.SIGTERM
    assert gone_soon([grandchild]) == []


async def test_stopping_twice_or_after_an_exit_is_harmless() -> None:
    child = await spawn_async("sleeper", ["sleep", "60"])
    await child.stop(grace=5)
    await child.stop(grace=5)
    assert child.returncode == -signal.SIGTERM
    done = await spawn_async("quick", ["true"])
    assert await done.exited() == 0
    await done.stop()
    assert done.returncode == 0


async def test_an_early_exit_names_the_program_and_quotes_its_output() -> None:
    child = await spawn_async(
        "broken",
        _python("import sys; print('loading config'); print('bad config: port'); sys.exit(3)"),
        stdout=PIPE,
        stderr=STDOUT,
    )
    seen: list[str] = []

    async def pump() -> None:
        async for line in child.lines():
            seen.append(line)

    pumping = asyncio.ensure_future(pump())
    with pytest.raises(NotReady) as info:
        await until_ready(child, asyncio.Event().wait(), timeout=30)
    await pumping
    assert str(info.value) == (
        "broken exited with code 3 while starting; its last output:\n"
        "loading config\nbad config: port"
    )
    assert seen == ["loading config", "bad config: port"]


def test_an_early_exit_of_a_child_logging_to_a_file_quotes_the_log(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    child = spawn("server", _python("import sys; sys.exit('address already in use')"), log_path=log)
    with pytest.raises(NotReady) as info:
        wait_until(child, lambda: False, timeout=30, waiting_for="its port")
    assert str(info.value) == (
        f"server exited with code 1 while starting; its last output (log {log}):\n"
        "address already in use"
    )


async def test_a_child_never_ready_times_out_with_its_output() -> None:
    child = await spawn_async(
        "slowpoke", _python("import time; print('still loading', flush=True); time.sleep(60)"),
        stdout=PIPE,
    )  # fmt: skip
    try:
        with pytest.raises(NotReady) as info:
            await until_ready(
                child, ready_line(child, lambda line: line == "ready" or None),
                timeout=0.5, waiting_for="a ready line",
            )  # fmt: skip
        assert str(info.value) == (
            "slowpoke: not ready after 0.5 s (a ready line); its last output:\nstill loading"
        )
        assert child.running  # what to do with it is the caller's decision
    finally:
        await child.stop(grace=1)


async def test_a_failing_check_is_reported_with_its_reason() -> None:
    child = await spawn_async("quiet", ["sleep", "60"])

    async def refused() -> None:
        raise ConnectionRefusedError("127.0.0.1:1 refused the connection")

    try:
        with pytest.raises(NotReady, match=r"^quiet: 127\.0\.0\.1:1 refused the connection; "
                                           r"it printed nothing$"):  # fmt: skip
            await until_ready(child, refused(), timeout=30)
    finally:
        await child.stop()


async def test_the_ready_line_is_the_first_one_parse_accepts() -> None:
    child = await spawn_async(
        "reporter", _python("print('starting'); print('port 4711', flush=True); input()"),
        stdin=PIPE, stdout=PIPE,
    )  # fmt: skip
    try:
        port = await until_ready(
            child, ready_line(child, lambda line: _number(line.removeprefix("port "))), timeout=30
        )
        assert port == 4711
    finally:
        await child.stop()


def test_a_child_dies_with_its_parent_even_when_that_is_killed(tmp_path: Path) -> None:
    parent_code = """
        import signal, time
        from deskpilot.common.processes import spawn
        child = spawn("orphan", ["sleep", "60"], die_with_parent=signal.SIGTERM)
        print(child.pid, flush=True)
        time.sleep(60)
    """
    parent = subprocess.Popen(_python(parent_code), stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        orphan = int(parent.stdout.readline())
        assert alive(orphan)
        parent.kill()  # SIGKILL: the parent cannot stop anything itself
        parent.wait()
        assert gone_soon([orphan]) == []
    finally:
        parent.kill()
        parent.wait()


async def test_an_adopted_process_is_stopped_through_its_pidfd() -> None:
    # Started by "another replica": not our child, so it cannot be reaped here.
    other = subprocess.Popen(["sleep", "60"])  # noqa: ASYNC220 - starts at once
    try:
        while not _command_line(other.pid):  # until its exec is done
            await asyncio.sleep(0.01)
        assert adopt(other.pid, "sleeper", with_argument=b"awake") is None
        adopted = adopt(other.pid, "sleeper", with_argument=b"sleep")
        assert adopted is not None
        try:
            await adopted.stop(grace=5)
            await asyncio.wait_for(adopted.exited(), 10)
        finally:
            adopted.close()
        assert other.wait(timeout=10) == -signal.SIGTERM
    finally:
        other.kill()
        other.wait()
    assert adopt(other.pid, "sleeper", with_argument=b"sleep") is None


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
async def test_stop_event_runs_until_sigint_or_sigterm(sig: signal.Signals) -> None:
    code = """
        import asyncio
        from deskpilot.common.signals import stop_event

        async def main():
            stopped = stop_event()
            print("waiting", flush=True)
            await stopped.wait()
            print("stopped", flush=True)

        asyncio.run(main())
    """
    child = await spawn_async("waiter", _python(code), stdout=PIPE)
    try:
        await until_ready(
            child, ready_line(child, lambda line: line == "waiting" or None), timeout=30
        )
        child.send(sig)
        assert await asyncio.wait_for(child.exited(), 30) == 0
        assert child.output_tail().splitlines()[-1] == "waiting"  # read so far
        assert [line async for line in child.lines()] == ["stopped"]
    finally:
        await child.stop()


def test_exit_descriptions_name_the_signal() -> None:
    assert exit_description(3) == "exited with code 3"
    assert exit_description(-signal.SIGKILL) == "was killed (SIGKILL)"
    assert exit_description(-50) == "was killed (signal 50)"
