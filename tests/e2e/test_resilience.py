"""Sessions survive their parts failing, with real processes: an orchestrator killed with
SIGKILL mid-session, nats-server restarted mid-session, an executor killed mid-action."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from deskpilot.cli.components import command_for, component
from deskpilot.cli.launch import start_component
from deskpilot.cli.serving import until_serving
from deskpilot.common.config import load_settings
from deskpilot.common.natsserver import NatsServer
from deskpilot.common.net import free_port
from deskpilot.common.sandbox_credential import (
    credential_pipe,
    new_credential,
    write_credential_file,
)
from deskpilot.display.executor import DisplayExecutor
from deskpilot.display.service import display_binding
from deskpilot.display.settings import DisplaySettings
from deskpilot.safety.app import binding as safety_binding
from deskpilot.safety.app import build_servicer
from deskpilot.safety.settings import SafetySettings
from deskpilot.sandbox.xserver import XServer
from deskpilot.standin import Responder, Script, StandInServer, Turn
from deskpilot.v1 import events_pb2, orchestrator_pb2, orchestrator_pb2_grpc, session_pb2
from tests.fixtures.auth import test_auth
from tests.fixtures.grpc import running_server
from tests.fixtures.orchestrator import follow_events, status_is

S = session_pb2
pytestmark = pytest.mark.timeout(180)


@dataclass
class Process:
    """A service running as its own process."""

    name: str
    pid: int
    address: str
    exited: Callable[[], Awaitable[object]]

    def kill(self) -> None:
        """SIGKILL: no cleanup, no goodbye, like a crash."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)

    async def wait(self) -> None:
        await self.exited()


async def _serving(name: str, address: str, kill: Callable[[], None]) -> None:
    try:
        await until_serving(component(name).serves, address, timeout=30)
    except TimeoutError:
        kill()
        raise


async def _start(name: str, *args: str, logs: Path, credential: str = "") -> Process:
    """Component `name` of the stack's description, as a process of its own; an executor
    gets `credential` through a descriptor."""
    address = f"127.0.0.1:{free_port()}"
    fds = (credential_pipe(credential),) if credential else ()
    given = ["--credential-fd", str(fds[0])] if fds else []
    try:
        child = await start_component(
            name, {name: address}, [*given, *args, "--log-format", "json"],
            log_path=logs / f"{name}.log", timeout=30,  # read it when a test fails
            pass_fds=fds,
        )  # fmt: skip
    finally:
        for fd in fds:
            os.close(fd)
    return Process(name, child.pid, address, child.exited)


class ReplicaLauncher:
    """Starts orchestrator replicas as forks of tests/helpers/replica_launcher.py, which
    has imported the orchestrator once, so a new replica serves in well under a second."""

    def __init__(self, process: asyncio.subprocess.Process, logs: Path) -> None:
        self._process = process
        self._logs = logs
        self._lock = asyncio.Lock()

    @classmethod
    async def start(cls, logs: Path) -> ReplicaLauncher:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.helpers.replica_launcher",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            cwd=Path(__file__).parents[2],
        )  # fmt: skip
        return cls(process, logs)

    async def launch(self, name: str, addresses: dict[str, str], *extra: str) -> Process:
        """A replica listening at a free port, wired to `addresses` as the stack's
        description says."""
        address = f"127.0.0.1:{free_port()}"
        invocation = command_for(
            "orchestrator", {**addresses, "orchestrator": address}, [*extra, "--log-format", "json"]
        )
        order = {
            "argv": list(invocation.args),
            "env": dict(invocation.env),
            "log": str(self._logs / f"{name}.log"),
        }
        assert self._process.stdin is not None and self._process.stdout is not None
        async with self._lock:
            self._process.stdin.write(json.dumps(order).encode() + b"\n")
            await self._process.stdin.drain()
            pid = int(await self._process.stdout.readline())
        process = Process(name, pid, address, lambda: _gone(pid))
        await _serving("orchestrator", process.address, process.kill)
        return process

    async def close(self) -> None:
        assert self._process.stdin is not None
        self._process.stdin.close()
        await self._process.wait()


async def _gone(pid: int) -> None:
    """Wait until a process that is not our child has disappeared."""
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        await asyncio.sleep(0.01)


@dataclass
class World:
    nats: NatsServer
    model: StandInServer
    home: Path
    shell: Process
    orchestrators: list[Process]
    launcher: ReplicaLauncher
    addresses: dict[str, str]  # where the replicas' dependencies listen
    replica_args: list[str]
    processes: list[Process]
    replicas_started: int = 0

    def stub(self, index: int) -> orchestrator_pb2_grpc.OrchestratorStub:
        return self.stub_of(self.orchestrators[index])

    def stub_of(self, replica: Process) -> orchestrator_pb2_grpc.OrchestratorStub:
        channel = test_auth().channel(replica.address, default_timeout=None, retry=False)
        return orchestrator_pb2_grpc.OrchestratorStub(channel)

    async def add_replica(self) -> Process:
        """Start one more orchestrator replica (a process of its own)."""
        replica_id = f"replica-{self.replicas_started}"
        self.replicas_started += 1
        replica = await self.launcher.launch(
            f"orchestrator-{replica_id}", self.addresses, *self.replica_args,
            "--replica-id", replica_id,
        )  # fmt: skip
        self.processes.append(replica)
        return replica


@contextlib.asynccontextmanager
async def world(
    tmp_path: Path,
    x_display: XServer,
    turns: list,
    *,
    replicas: int,
    responder: Responder | None = None,
    lease_seconds: float = 2,
) -> AsyncIterator[World]:
    """NATS, the stand-in, safety and display in this process; the shell executor and the
    orchestrator replicas as processes of their own, started and wired as the stack's
    description says (`deskpilot.cli.components`)."""
    home = tmp_path / "home"
    home.mkdir()
    processes: list[Process] = []
    async with contextlib.AsyncExitStack() as stack:
        nats = stack.enter_context(NatsServer(tmp_path / "nats"))
        model = await stack.enter_async_context(StandInServer(Script(turns, responder)))
        safety = build_servicer(load_settings(SafetySettings, None, ocr_workers=1))
        stack.callback(safety.close)
        safety_server, _ = await stack.enter_async_context(running_server([safety_binding(safety)]))
        executor = DisplayExecutor(load_settings(DisplaySettings, None, display=x_display.display))
        await executor.open()
        stack.push_async_callback(executor.close)
        display_server, _ = await stack.enter_async_context(
            running_server([display_binding(executor)])
        )
        launcher = await ReplicaLauncher.start(tmp_path)
        stack.push_async_callback(launcher.close)
        try:
            credential = new_credential()
            credential_file = tmp_path / "sandbox.credential"
            write_credential_file(credential_file, credential)
            shell = await _start(
                "shell",
                "--roots",
                f'["{home}"]',
                "--working-dir",
                str(home),
                logs=tmp_path,
                credential=credential,
            )
            processes.append(shell)
            addresses = {
                "nats": nats.endpoint,
                "safety": safety_server.address,
                "standin": f"{model.host}:{model.port}",
            }
            args = [
                "--sandbox.provider", "existing",
                "--sandbox.existing.display-address", display_server.address,
                "--sandbox.existing.shell-address", shell.address,
                "--sandbox.existing.credential-file", str(credential_file),
                "--lease-seconds", str(lease_seconds),
                *test_auth().orchestrator_auth_flags(),
            ]  # fmt: skip
            w = World(nats, model, home, shell, [], launcher, addresses, args, processes)
            w.orchestrators = list(
                await asyncio.gather(*(w.add_replica() for _ in range(replicas)))
            )
            yield w
        finally:
            for process in processes:
                process.kill()
            for process in processes:
                await process.wait()


async def _create(stub: orchestrator_pb2_grpc.OrchestratorStub, task: str = "work") -> str:
    config = S.SessionConfig(task=task, model="claude-sonnet-4-6", tool_set=S.TOOL_SET_20250124)
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
        assert result.is_error and "may or may not have been performed" in result.text
        [executed] = [e.action_executed for e in events if e.HasField("action_executed")]
        assert not executed.ok and "bash executor failed" in executed.error
        # The model was told, and the session is alive and waiting for the user.
        last = w.model.message_requests[-1].messages[-1]["content"][0]
        assert last["is_error"]
        assert "may or may not have been performed" in last["content"][0]["text"]


# The kill-the-owner scenario, again and again: each round a session runs one bash command
# that appends its name to a file (every fifth round an editor insert that adds it at the
# top), and the replica that owns the session is killed with SIGKILL while that action is
# in flight (or just proposed, or just finished). The other replica takes the session
# over and answers the tool call; the file must show every action exactly once.
KILL_ROUNDS = 20
_COMMAND_SECONDS = 0.4


def _append_once(log: Path) -> Responder:
    """The model of every round: run the command the task names, then say done."""

    def answer(request: dict) -> Turn:
        last = request["messages"][-1]["content"]
        if any(block.get("type") == "tool_result" for block in last):
            return Turn.text("done")
        task = request["messages"][0]["content"][0]["text"]
        if task.startswith("edit-"):
            insert = {"command": "insert", "path": str(log), "insert_line": 0, "new_str": task}
            return Turn.tool_use("str_replace_editor", insert)
        return Turn.tool_use("bash", {"command": f"echo {task} >> {log}; sleep {_COMMAND_SECONDS}"})

    return answer


async def _until(condition: Callable[[], bool], timeout: float = 30) -> None:
    for _ in range(int(timeout / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition never held")


@pytest.mark.timeout(600)
async def test_killing_the_owner_mid_action_never_runs_it_twice(
    tmp_path: Path, x_display: XServer
) -> None:
    log = tmp_path / "home" / "runs.log"
    async with world(
        tmp_path, x_display, [], replicas=2, responder=_append_once(log), lease_seconds=1
    ) as w:
        owner, survivor = w.orchestrators
        runs = [f"edit-{i}" if i % 5 == 2 else f"run-{i}" for i in range(KILL_ROUNDS)]
        for index, run in enumerate(runs):
            session_id = await _create(w.stub_of(owner), task=run)
            if index % 4 == 0:  # as soon as it is proposed: the command may not have started
                await follow_events(
                    w.stub_of(owner), session_id, lambda e: e.HasField("action_proposed")
                )
            else:  # while it runs, or (the last of every four) about when it ends
                await _until(lambda run=run: run in _steps(log))
                await asyncio.sleep(_COMMAND_SECONDS * (index % 4 - 1) / 2)
            owner.kill()
            replacement = asyncio.create_task(w.add_replica())
            events = await follow_events(w.stub_of(survivor), session_id, _waiting_input)
            results = [e.tool_result for e in events if e.HasField("tool_result")]
            assert _steps(log).count(run) == 1, f"round {index}: {_steps(log)}"
            assert [r.is_error for r in results] == [False], f"round {index}: {results}"
            await owner.wait()
            owner, survivor = survivor, await replacement
        assert sorted(_steps(log)) == sorted(runs)


async def test_an_action_approved_before_the_owner_died_is_not_asked_again(
    tmp_path: Path, x_display: XServer
) -> None:
    # The survivor used to judge the call again and ask a second time; a denial then would
    # have told the model that an action which had already run was refused.
    log = tmp_path / "home" / "runs.log"
    scratch = tmp_path / "home" / "scratch.txt"
    command = f"touch {scratch}; rm -f {scratch}; echo approved >> {log}; sleep {_COMMAND_SECONDS}"
    turns = [Turn.tool_use("bash", {"command": command}), Turn.text("done")]
    async with world(tmp_path, x_display, turns, replicas=2, lease_seconds=1) as w:
        owner, survivor = w.orchestrators
        session_id = await _create(w.stub_of(owner))
        asked = await follow_events(
            w.stub_of(owner), session_id, lambda e: e.HasField("confirmation_requested")
        )
        await _approve(w.stub_of(owner), session_id, asked[-1])
        await _until(lambda: "approved" in _steps(log))
        owner.kill()
        seen: list[events_pb2.Event] = []

        def settled(event: events_pb2.Event) -> bool:  # waiting, or asking a second time
            if event.HasField("confirmation_requested"):
                seen.append(event)
            return len(seen) > 1 or _waiting_input(event)

        events = await follow_events(w.stub_of(survivor), session_id, settled)
        requests = [e for e in events if e.HasField("confirmation_requested")]
        results = [e.tool_result for e in events if e.HasField("tool_result")]
        assert len(requests) == 1, "the approved action was put to a person again"
        assert _steps(log) == ["approved"]
        assert [r.is_error for r in results] == [False], results
