"""`deskpilot up` owns its children whatever its terminal does: Ctrl-C (SIGINT to the whole
foreground process group) reaches only the supervisor, which stops the orchestrator before
NATS; a pipeline's reader dying with it, a hang-up, or the supervisor itself being killed
with SIGKILL never leaves a component running."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from tests.helpers.processes import descendants, left_running
from tests.helpers.up import READY, read_until, up_command

pytestmark = pytest.mark.timeout(240)
NO_WARM_SANDBOX = {**os.environ, "DESKPILOT_ORCHESTRATOR_LOCAL_POOL_SIZE": "0"}


async def _start_up(
    tmp_path: Path, env: dict[str, str] | None = None
) -> asyncio.subprocess.Process:
    """`deskpilot up` as a terminal's foreground job: its own process group."""
    return await asyncio.create_subprocess_exec(
        *up_command(tmp_path / "var"),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT, start_new_session=True, env=env,
    )  # fmt: skip


async def _finish(up: asyncio.subprocess.Process) -> None:
    if up.returncode is None:
        os.killpg(up.pid, signal.SIGKILL)
        await up.wait()


def _lines_of(log: list[str], name: str) -> list[str]:
    return [line for line in log if line.startswith(f"{name} ")]


def _said(log: list[str], text: str) -> int:
    """Where the supervisor itself said `text`."""
    return next(
        i for i, line in enumerate(log) if line.startswith("up ") and line.endswith(f"| {text}\n")
    )


async def test_ctrl_c_stops_the_orchestrator_before_nats(tmp_path: Path) -> None:
    up = await _start_up(tmp_path, NO_WARM_SANDBOX)
    log: list[str] = []
    try:
        assert up.stdout is not None
        await read_until(up.stdout, READY, log)
        os.killpg(up.pid, signal.SIGINT)  # what a terminal does on Ctrl-C
        rest = (await asyncio.wait_for(up.stdout.read(), 120)).decode()
        log += rest.splitlines(keepends=True)
        assert await up.wait() == 0, "".join(log)
    finally:
        await _finish(up)
    text = "".join(log)
    # NATS got no SIGINT of its own: it ends only once the supervisor stops it, last.
    nats = _lines_of(log, "nats")
    exiting = next(i for i, line in enumerate(log) if line in nats and "Server Exiting" in line)
    stopping = {name: _said(log, f"stopping {name}") for name in ("orchestrator", "nats")}
    assert stopping["orchestrator"] < stopping["nats"] < exiting, text
    orchestrator = _lines_of(log, "orchestrator")
    lost_nats = [
        line for line in orchestrator if "disconnected" in line or "unexpected EOF" in line
    ]
    assert orchestrator and not lost_nats, text


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGHUP], ids=lambda s: s.name)
async def test_a_pipeline_interrupted_or_hung_up_leaves_nothing_running(
    sig: signal.Signals, tmp_path: Path
) -> None:
    # `make run | tee log`, then Ctrl-C (or the terminal closes): the signal reaches the
    # whole pipeline, tee dies first and the supervisor writes into a closed pipe.
    log_file = tmp_path / "up.log"
    command = " ".join(f"'{arg}'" for arg in up_command(tmp_path / "var", "--stand-in"))
    shell = await asyncio.create_subprocess_exec(
        "bash", "-c", f"{command} | tee {log_file}",
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        while READY not in (log_file.read_text() if log_file.exists() else ""):
            assert shell.returncode is None, log_file.read_text()
            await asyncio.sleep(0.1)
        running = descendants(shell.pid)
        assert len(running) >= 6, running  # tee, up, nats, stand-in, safety, orchestrator…
        os.killpg(shell.pid, sig)
        assert await left_running(running) == {}, log_file.read_text()
    finally:
        await _finish(shell)


async def _with_warm_sandbox(root: int) -> dict[int, bytes]:
    """The processes below `root` once the orchestrator has started its warm sandbox."""
    while True:
        running = descendants(root)
        if any(b"deskpilot.sandbox" in command for command in running.values()):
            return running
        await asyncio.sleep(0.1)


async def test_killing_the_supervisor_kills_what_it_started(tmp_path: Path) -> None:
    up = await _start_up(tmp_path)
    log: list[str] = []
    try:
        assert up.stdout is not None
        await read_until(up.stdout, READY, log)
        running = await _with_warm_sandbox(up.pid)
        assert len(running) >= 4, running  # nats, safety, orchestrator, a sandbox (and its X…)
        os.kill(up.pid, signal.SIGKILL)  # it cannot stop anything itself
        await up.wait()
        assert await left_running(running) == {}, "".join(log)
    finally:
        await _finish(up)
