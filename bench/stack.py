"""A whole deskpilot stack for benchmarks, started outside pytest.

- nats-server (JetStream) and the safety service as child processes, on free loopback ports
  (safety started from the stack's description, `deskpilot.cli.components`);
- the Messages API stand-in in this process, answering from a `Planner` (the task text of
  each session says what it does, so concurrent sessions each follow their own plan);
- sandboxes from the real local provider (`python -m deskpilot.sandbox` child processes:
  X server, display and shell executors);
- orchestrator replicas in this process (SessionManager + gRPC), so a benchmark can choose
  the loop settings and the sandbox provider of each.

Everything started here is stopped when the `BenchStack` context exits.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deskpilot.bus import Bus
from deskpilot.cli import local_auth
from deskpilot.cli.launch import start_component
from deskpilot.common.client_tokens import TokenFile
from deskpilot.common.config import load_settings
from deskpilot.common.grpc_client import open_channel
from deskpilot.common.natsserver import NatsServer
from deskpilot.common.net import free_port
from deskpilot.common.processes import AsyncChild
from deskpilot.orchestrator.loop import LoopSettings
from deskpilot.orchestrator.manager import SessionManager
from deskpilot.orchestrator.sandboxes.provider import SandboxProvider
from deskpilot.orchestrator.service import start_replica
from deskpilot.orchestrator.settings import OrchestratorSettings
from deskpilot.standin import Script, StandInServer, Turn
from deskpilot.v1 import orchestrator_pb2_grpc

# A session's task names its plan: "bench <kind> <steps> <tag>", e.g. "bench bash 20 s3".
_PLAN = re.compile(r"^bench (\w+) (\d+) (\S+)$")


def rss_mb(pid: int | None = None) -> float:
    """Resident memory of a process (this one by default) in MB."""
    status = Path(f"/proc/{pid or os.getpid()}/status").read_text()
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants in MB."""
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            total += rss_mb(current)
            for task_dir in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task_dir / "children").read_text().split()]
    return total


def task(kind: str, steps: int, tag: str) -> str:
    """The task text that makes the planner run `steps` steps of `kind`."""
    return f"bench {kind} {steps} {tag}"


def planned_turn(kind: str, step: int) -> Turn:
    """The model's answer at `step` (0-based) of a plan of `kind`.

    Clicks and mouse moves change their coordinates every step: the loop ends a session
    that repeats one action on an unchanged screen (its no-progress guard).
    """
    x, y = 40 + (step * 23) % 1000, 700 - (step * 7) % 300
    if kind == "bash":
        return Turn.tool_use("bash", {"command": "echo hi"})
    if kind == "click":
        return Turn.tool_use("computer", {"action": "left_click", "coordinate": [x, y]})
    if kind == "move":  # a screenshot action whose result always carries an image
        return Turn.tool_use("computer", {"action": "mouse_move", "coordinate": [x, y]})
    raise ValueError(f"unknown plan kind {kind!r}")


@dataclass
class Planner:
    """The stand-in's responder: answers each request from the plan in its task text, and
    notes when each session's first request arrived (perf_counter seconds)."""

    first_request_at: dict[str, float] = field(default_factory=dict)

    def __call__(self, body: dict[str, Any]) -> Turn:
        messages = body["messages"]
        first = messages[0]["content"]
        text = first if isinstance(first, str) else first[0]["text"]
        match = _PLAN.match(text)
        if match is None:
            return Turn.text("Nothing to do.")
        kind, steps, tag = match.group(1), int(match.group(2)), match.group(3)
        self.first_request_at.setdefault(tag, time.perf_counter())
        done = sum(1 for m in messages if m["role"] == "assistant")
        if done >= steps:
            return Turn.text("Done.")
        return planned_turn(kind, done)


@dataclass
class Replica:
    """An orchestrator replica in this process and a stub to its gRPC server."""

    manager: SessionManager
    stub: orchestrator_pb2_grpc.OrchestratorStub


class BenchStack:
    """`async with BenchStack() as stack:` NATS, safety, the stand-in; then replicas."""

    def __init__(self) -> None:
        self.planner = Planner()
        self.model = StandInServer(Script(responder=self.planner))
        self.folder = Path(tempfile.mkdtemp(prefix="deskpilot-bench-"))
        self.folder.chmod(0o711)  # sandbox users reach their folders below it
        self.nats = NatsServer(self.folder / "nats")
        self.safety_address = ""
        self.auth = local_auth.local_auth(self.folder)
        self.bus: Bus | None = None
        self._safety: AsyncChild | None = None
        self._exit = contextlib.AsyncExitStack()
        self._exit.callback(shutil.rmtree, self.folder, ignore_errors=True)  # runs last
        self._replicas = 0

    async def __aenter__(self) -> BenchStack:
        try:
            await self._start()
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return self

    async def _start(self) -> None:
        self.nats.start()
        self._exit.callback(self.nats.stop)
        self.bus = await Bus.connect(self.nats.url, "bench")
        self._exit.push_async_callback(self.bus.close)
        await self.bus.ensure_resources()
        await self._exit.enter_async_context(self.model)
        # The orchestrator builds its SDK client from the environment, like any SDK user.
        os.environ["ANTHROPIC_BASE_URL"] = self.model.base_url
        os.environ["ANTHROPIC_API_KEY"] = "bench-key"
        # Keys and tokens as `deskpilot up` makes them: services check real tokens.
        local_auth.prepare(self.folder)
        self.safety_address = f"127.0.0.1:{free_port()}"
        self._safety = await start_component(
            "safety",
            {"safety": self.safety_address},
            ["--ocr-workers", "1", "--log-level", "warning"],
            env=self.auth.service_env("safety"),
        )
        self._exit.push_async_callback(self._safety.stop)

    async def __aexit__(self, *exc: object) -> None:
        await self._exit.aclose()

    @property
    def safety_pid(self) -> int:
        assert self._safety is not None
        return self._safety.pid

    async def replica(
        self, provider: SandboxProvider, loop_settings: LoopSettings | None = None, **settings: Any
    ) -> Replica:
        """Start an orchestrator replica on this stack's NATS with `provider`."""
        assert self.bus is not None
        self._replicas += 1
        values: dict[str, Any] = {
            "port": 0,
            "grace_seconds": 0.5,
            "safety_address": self.safety_address,
            "replica_id": f"bench-{self._replicas}",
            "lease_seconds": 10.0,
            "log_level": "warning",
            "auth": {
                "public_key_file": self.auth.public_key_file,
                "token_file": self.auth.orchestrator_token_file,
                "secrets_key_file": self.auth.secrets_key_file,
            },
        }
        values.update(settings)
        config = load_settings(OrchestratorSettings, None, **values)
        manager, server = await start_replica(
            self.bus, provider, config, self._exit, loop_settings=loop_settings
        )
        token = TokenFile(self.auth.cli_token_file)  # the stack's admin
        channel = open_channel(server.address, token=token, default_timeout=None, retry=False)
        self._exit.push_async_callback(channel.close)
        return Replica(manager, orchestrator_pb2_grpc.OrchestratorStub(channel))

    def sandbox_folder(self, name: str) -> Path:
        """A folder for a sandbox provider's runtime files, removed with the stack."""
        return self.folder / name

    def keep(self, callback: Any, *args: Any) -> None:
        """Run `callback(*args)` (async) when the stack stops, before NATS and safety."""
        self._exit.push_async_callback(callback, *args)
