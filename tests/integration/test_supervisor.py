"""`deskpilot up`'s supervisor against real processes: dependency order, readiness,
clean stop of everything, and failure handling."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import sys
from pathlib import Path

import pytest

from deskpilot.bus import Bus, BusRefused
from deskpilot.bus.identities import BusRole
from deskpilot.cli.components import Invocation
from deskpilot.cli.local_auth import local_auth
from deskpilot.cli.supervisor import (
    NatsComponent,
    ProcessComponent,
    Supervisor,
    order_by_dependencies,
)
from deskpilot.common.grpc_client import wait_until_serving
from deskpilot.common.natsserver import NatsServer
from deskpilot.common.net import free_port
from tests.helpers.processes import alive
from tests.helpers.up import up_command

ROOT = Path(__file__).resolve().parents[2]


def _slow_service(name: str = "slow", depends_on: tuple[str, ...] = ("nats",)) -> ProcessComponent:
    port = free_port()
    return ProcessComponent(
        name=name,
        command=Invocation(
            (sys.executable, "-m", "tests.helpers.slow_service"), ("--port", str(port))
        ),
        address=f"127.0.0.1:{port}",
        health_service="test.Slow",
        depends_on=depends_on,
    )


async def _until(out: io.StringIO, text: str, task: asyncio.Task[int]) -> None:
    """Wait until the supervisor has printed `text` (or has ended)."""
    while text not in out.getvalue() and not task.done():
        await asyncio.sleep(0.05)


async def test_starts_in_dependency_order_and_stops_everything(tmp_path: Path) -> None:
    nats = NatsComponent(NatsServer(tmp_path / "nats"))
    slow = _slow_service()
    out, stop = io.StringIO(), asyncio.Event()
    supervisor = Supervisor([slow, nats], out=out, grace_seconds=5)  # deliberately unordered
    task = asyncio.ensure_future(supervisor.run(stop))
    await asyncio.wait_for(_until(out, "all components ready", task), 60)

    log = out.getvalue()
    assert log.index("nats ready at") < log.index("starting slow")
    await wait_until_serving(slow.address, service="test.Slow", timeout=5)
    nats_pid, slow_pid = nats.server.pid, slow.child.pid
    assert alive(nats_pid) and alive(slow_pid)

    stop.set()
    assert await asyncio.wait_for(task, 30) == 0
    assert not alive(slow_pid) and not alive(nats_pid)
    assert out.getvalue().index("stopping slow") < out.getvalue().index("stopping nats")


async def test_a_component_that_fails_to_start_stops_the_rest(tmp_path: Path) -> None:
    nats = NatsComponent(NatsServer(tmp_path / "nats"))
    broken = ProcessComponent(
        name="broken",
        command=Invocation(
            (sys.executable, "-c"), ("import sys; print('bad config'); sys.exit(3)",)
        ),
        address=f"127.0.0.1:{free_port()}",
        depends_on=("nats",),
    )
    out = io.StringIO()
    code = await asyncio.wait_for(Supervisor([nats, broken], out=out).run(asyncio.Event()), 60)
    assert code == 1
    assert "broken exited with code 3 while starting" in out.getvalue()
    assert "broken | bad config" in out.getvalue()
    assert not nats.server.is_running


async def test_a_component_that_dies_later_stops_the_rest(tmp_path: Path) -> None:
    nats = NatsComponent(NatsServer(tmp_path / "nats"))
    slow = _slow_service()
    out = io.StringIO()
    task = asyncio.ensure_future(Supervisor([nats, slow], out=out).run(asyncio.Event()))
    await asyncio.wait_for(_until(out, "all components ready", task), 60)
    os.kill(slow.child.pid, signal.SIGKILL)
    assert await asyncio.wait_for(task, 30) == 1
    assert "slow exited unexpectedly" in out.getvalue()
    assert not nats.server.is_running


async def test_a_closed_output_stops_everything_without_raising(tmp_path: Path) -> None:
    # `deskpilot up | tee log` whose tee is gone: every write meets a closed pipe.
    read_end, write_end = os.pipe()
    os.close(read_end)
    nats = NatsComponent(NatsServer(tmp_path / "nats"))
    slow = _slow_service()
    with open(write_end, "w") as out:  # noqa: ASYNC230 - a pipe, opens at once
        supervisor = Supervisor([nats, slow], out=out, grace_seconds=5)
        code = await asyncio.wait_for(supervisor.run(asyncio.Event()), 60)
    assert code == 0 and supervisor.output_lost
    assert not nats.server.is_running
    assert slow.child is None or not slow.child.running


def test_dependency_problems_are_reported() -> None:
    a = _slow_service("a", depends_on=("b",))
    b = _slow_service("b", depends_on=("a",))
    with pytest.raises(ValueError, match="cycle"):
        order_by_dependencies([a, b])
    with pytest.raises(ValueError, match="unknown component nats"):
        order_by_dependencies([_slow_service()])


async def test_deskpilot_up_runs_until_sigterm(tmp_path: Path) -> None:
    # Free ports for every component: on the defaults, a stack running elsewhere on the
    # machine (another test, a developer's `make run`) would hold them.
    process = await asyncio.create_subprocess_exec(
        *up_command(tmp_path / "var"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=ROOT,
    )  # fmt: skip
    lines: list[str] = []
    try:
        while not any("all components ready" in line for line in lines):
            line = await asyncio.wait_for(process.stdout.readline(), 60)
            assert line, "deskpilot up ended early:\n" + "".join(lines)
            lines.append(line.decode())
        nats_url = next(line for line in lines if "nats ready at" in line).split()[-1]
        host, port = nats_url.removeprefix("nats://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        assert (await reader.readline()).startswith(b"INFO ")  # a real NATS server answers
        writer.close()
        # ... which lets in only the stack's services: no one without an identity.
        with pytest.raises(BusRefused, match="without credentials"):
            await Bus.connect(nats_url, "anonymous", connect_timeout=10)
        seed = local_auth(tmp_path / "var").nats_seed_file(BusRole.GATEWAY)
        async with await Bus.connect(nats_url, "gateway", seed_file=seed) as gateway:
            assert await gateway.unreachable_reason() is None
        process.send_signal(signal.SIGTERM)
        rest = (await asyncio.wait_for(process.stdout.read(), 30)).decode()
        assert await process.wait() == 0
        assert "stopped" in rest
        with pytest.raises(OSError):
            await asyncio.open_connection(host, int(port))
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
