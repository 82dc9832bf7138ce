"""Sessions survive their parts failing, with real processes: an orchestrator killed with
SIGKILL mid-session, nats-server restarted mid-session, an executor killed mid-action."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from deskpilot.common.config import load_settings
from deskpilot.common.grpc_client import wait_until_serving
from deskpilot.common.natsserver import NatsServer
from deskpilot.common.net import free_port
from deskpilot.display.executor import DisplayExecutor
from deskpilot.display.service import display_binding
from deskpilot.display.settings import DisplaySettings
from deskpilot.safety.app import binding as safety_binding
from deskpilot.safety.app import build_servicer
from deskpilot.safety.settings import SafetySettings
from deskpilot.sandbox.xserver import XServer
from deskpilot.standin import Script, StandInServer, Turn
from deskpilot.v1 import events_pb2, orchestrator_pb2, orchestrator_pb2_grpc, session_pb2
from tests.fixtures.grpc import running_server
from tests.fixtures.orchestrator import follow_events, status_is

S = session_pb2
pytestmark = pytest.mark.timeout(180)


@dataclass
class Process:
    """A service running as its own process."""

    name: str
    process: asyncio.subprocess.Process
    address: str

    def kill(self) -> None:
        """SIGKILL: no cleanup, no goodbye, like a crash."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)


async def _start(
    name: str, module: str, *args: str, logs: Path, env: dict[str, str] | None = None
) -> Process:
    port = free_port()
    with (logs / f"{name}.log").open("ab") as log:  # read them when a test fails
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", module, "--port", str(port), "--log-format", "json", *args,
            env={**os.environ, **(env or {})}, start_new_session=True,
            stdout=asyncio.subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
    address = f"127.0.0.1:{port}"
    try:
        await wait_until_serving(address, timeout=30)
    except TimeoutError:
        process.kill()
        raise
    return Process(name, process, address)


@dataclass
class World:
    nats: NatsServer
    model: StandInServer
    home: Path
    shell: Process
    orchestrators: list[Process]

    def stub(self, index: int) -> orchestrator_pb2_grpc.OrchestratorStub:
        return orchestrator_pb2_grpc.OrchestratorStub(
            grpc.aio.insecure_channel(self.orchestrators[index].address)
        )


@contextlib.asynccontextmanager
async def world(
    tmp_path: Path, x_display: XServer, turns: list, *, replicas: int
) -> AsyncIterator[World]:
    """NATS, the stand-in, safety and display in this process; the shell executor and the
    orchestrator replicas as processes of their own."""
    home = tmp_path / "home"
    home.mkdir()
    processes: list[Process] = []
    async with contextlib.AsyncExitStack() as stack:
        nats = stack.enter_context(NatsServer(tmp_path / "nats"))
        model = await stack.enter_async_context(StandInServer(Script(turns)))
        safety = build_servicer(load_settings(SafetySettings, None, ocr_workers=1))
        stack.callback(safety.close)
        safety_server, _ = await stack.enter_async_context(running_server([safety_binding(safety)]))
        executor = DisplayExecutor(load_settings(DisplaySettings, None, display=x_display.display))
        await executor.open()
        stack.push_async_callback(executor.close)
        display_server, _ = await stack.enter_async_context(
            running_server([display_binding(executor)])
        )
        try:
            shell = await _start(
                "shell", "deskpilot.shell", "--roots", f'["{home}"]', "--working-dir", str(home),
                logs=tmp_path,
            )  # fmt: skip
            processes.append(shell)
            env = {"ANTHROPIC_BASE_URL": model.base_url, "ANTHROPIC_API_KEY": "test-key"}
            orchestrators = []
            for index in range(replicas):
                replica = await _start(
                    f"orchestrator-{index}", "deskpilot.orchestrator",
                    "--nats-url", nats.url, "--safety-address", safety_server.address,
                    "--sandbox-provider", "existing",
                    "--sandbox-display-address", display_server.address,
                    "--sandbox-shell-address", shell.address,
                    "--replica-id", f"replica-{index}", "--lease-seconds", "2",
                    env=env, logs=tmp_path,
                )  # fmt: skip
                processes.append(replica)
                orchestrators.append(replica)
            yield World(nats, model, home, shell, orchestrators)
        finally:
            for process in processes:
                process.kill()
                await process.process.wait()


async def _create(stub: orchestrator_pb2_grpc.OrchestratorStub) -> str:
    config = S.SessionConfig(task="work", model="claude-sonnet-4-6", tool_set=S.TOOL_SET_20250124)
    reply = await stub.CreateSession(orchestrator_pb2.CreateSessionRequest(config=config))
    return reply.session.id


async def _approve(
    stub: orchestrator_pb2_grpc.OrchestratorStub, session_id: str, request: events_pb2.Event
) -> None:
    await stub.ResolveConfirmation(
        orchestrator_pb2.ResolveConfirmationRequest(
            session_id=session_id,
            confirmation_id=request.confirmation_requested.confirmation_id,
            approve=True,
        ),
        timeout=30,
    )


_waiting_input = status_is(S.SESSION_STATUS_WAITING_INPUT)


def _steps(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


async def test_sigkill_of_the_owner_loses_and_repeats_no_step(
    tmp_path: Path, x_display: XServer
) -> None:
    log = tmp_path / "home" / "steps.log"
    turns = [
        Turn.tool_use("bash", {"command": f"echo one >> {log}"}),
        Turn.tool_use("bash", {"command": f"echo two >> {log}"}),
        Turn.tool_use("bash", {"command": f"sudo -n true; echo three >> {log}"}),
        Turn.text("done"),
    ]
    async with world(tmp_path, x_display, turns, replicas=2) as w:
        session_id = await _create(w.stub(0))
        await follow_events(w.stub(1), session_id, lambda e: e.HasField("confirmation_requested"))
        w.orchestrators[0].kill()  # the owner dies while a person is being asked
        events = await follow_events(
            w.stub(1), session_id,
            lambda e: e.HasField("confirmation_requested") and e.producer == "replica-1",
        )  # fmt: skip
        await _approve(w.stub(1), session_id, events[-1])
        events = await follow_events(w.stub(1), session_id, _waiting_input)
        assert _steps(log) == ["one", "two", "three"]
        assert [e.sequence for e in events] == list(range(1, len(events) + 1))
        results = [e.tool_result for e in events if e.HasField("tool_result")]
        assert [r.is_error for r in results] == [False, False, False]


async def test_nats_restart_mid_session_loses_nothing(tmp_path: Path, x_display: XServer) -> None:
    log = tmp_path / "home" / "steps.log"
    turns = [
        Turn.tool_use("bash", {"command": f"echo one >> {log}"}),
        Turn.tool_use("bash", {"command": f"sudo -n true; echo two >> {log}"}),
        Turn.tool_use("bash", {"command": f"echo three >> {log}"}),
        Turn.text("done"),
    ]
    async with world(tmp_path, x_display, turns, replicas=1) as w:
        session_id = await _create(w.stub(0))
        events = await follow_events(
            w.stub(0), session_id, lambda e: e.HasField("confirmation_requested")
        )
        await asyncio.to_thread(w.nats.restart)
        await _approve(w.stub(0), session_id, events[-1])
        events = await follow_events(w.stub(0), session_id, _waiting_input)
        assert _steps(log) == ["one", "two", "three"]
        assert [e.sequence for e in events] == list(range(1, len(events) + 1))


async def test_an_executor_killed_mid_action_gives_an_error_result(
    tmp_path: Path, x_display: XServer
) -> None:
    turns = [Turn.tool_use("bash", {"command": "sleep 60"}), Turn.text("noted")]
    async with world(tmp_path, x_display, turns, replicas=1) as w:
        session_id = await _create(w.stub(0))
        await follow_events(w.stub(0), session_id, lambda e: e.HasField("action_proposed"))
        await asyncio.sleep(0.5)  # let the command start in the executor
        w.shell.kill()
        events = await follow_events(w.stub(0), session_id, _waiting_input)
        [result] = [e.tool_result for e in events if e.HasField("tool_result")]
        assert result.is_error and "could not be performed" in result.text
        [executed] = [e.action_executed for e in events if e.HasField("action_executed")]
        assert not executed.ok and "bash executor failed" in executed.error
        # The model was told, and the session is alive and waiting for the user.
        last = w.model.message_requests[-1].messages[-1]["content"][0]
        assert last["is_error"] and "could not be performed" in last["content"][0]["text"]
