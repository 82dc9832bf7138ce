"""The agent loop with real parts: the real SDK against the Messages API stand-in, the real
safety service, the real shell executor and a real nats-server. Only the model is scripted."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from deskpilot.bus import Bus
from deskpilot.common.client_tokens import static_token
from deskpilot.common.config import load_settings
from deskpilot.common.safety_client import SafetyGate
from deskpilot.orchestrator.context import ContextPolicy
from deskpilot.orchestrator.events import SessionEvents
from deskpilot.orchestrator.loop import LoopDeps, LoopSettings, SessionLoop
from deskpilot.orchestrator.model import make_client
from deskpilot.orchestrator.sandboxes.client import SandboxClient
from deskpilot.orchestrator.store import SessionStore
from deskpilot.orchestrator.tools import TOOL_SETS
from deskpilot.safety.app import binding as safety_binding
from deskpilot.safety.app import build_servicer
from deskpilot.safety.settings import SafetySettings
from deskpilot.standin import Script, StandInServer, Turn
from deskpilot.standin.script import TextBlock, ToolUseBlock
from deskpilot.v1 import events_pb2, session_pb2
from tests.fixtures.auth import orchestrators_seal, test_auth
from tests.fixtures.grpc import running_server
from tests.fixtures.shell import running_shell

S = session_pb2


@dataclass
class Harness:
    loop: SessionLoop
    bus: Bus
    store: SessionStore
    model: StandInServer
    home: Path

    async def events(self) -> list[events_pb2.Event]:
        return [e async for e in self.bus.replay_events(self.loop.session.id)]

    async def until_status(self, status: int, *, steps: int = 0) -> None:
        """Wait until the stored session has `status` (and at least `steps` steps)."""
        while True:
            session = (await self.store.get(self.loop.session.id)).session
            if session.status == status and session.steps >= steps:
                return
            await asyncio.sleep(0.02)

    def results_sent(self, request_index: int) -> list[dict]:
        """The tool_result blocks of the last user message of a model request."""
        messages = self.model.message_requests[request_index].messages
        return [b for b in messages[-1]["content"] if b["type"] == "tool_result"]


@contextlib.asynccontextmanager
async def harness(
    tmp_path: Path, bus: Bus, turns: list, *, confirmation_timeout: float = 30.0
) -> AsyncIterator[Harness]:
    safety = build_servicer(load_settings(SafetySettings, None, ocr_workers=1))
    async with (
        StandInServer(Script(turns)) as model,
        running_server([safety_binding(safety)]) as (safety_server, _),
        running_shell(tmp_path) as shell,
    ):
        session = S.Session(
            id="s-loop",
            config=S.SessionConfig(
                task="make a file", model="claude-sonnet-4-6", tool_set=S.TOOL_SET_20250124
            ),
            status=S.SESSION_STATUS_STARTING,
        )
        store = SessionStore(bus, orchestrators_seal())
        await store.create(S.SessionRecord(session=session))
        client, retries = make_client(max_retries=2)
        client = client.with_options(base_url=model.base_url, api_key="test-key")
        sandbox = SandboxClient(
            S.SandboxEndpoints(display_address="127.0.0.1:9", shell_address=shell.address),
            TOOL_SETS[S.TOOL_SET_20250124],
        )
        gate = SafetyGate(safety_server.address, token=static_token(test_auth().orchestrator_token))
        deps = LoopDeps(
            client=client,
            retries=retries,
            gate=gate,
            sandbox=sandbox,
            bus=bus,
            store=store,
            events=SessionEvents(bus, session.id, "replica-test"),
            settings=LoopSettings(
                context=ContextPolicy(), confirmation_timeout=confirmation_timeout
            ),
        )
        loop = SessionLoop(session, deps, screen_size=(1280, 800))
        try:
            yield Harness(loop, bus, store, model, tmp_path / "home")
        finally:
            await sandbox.close()
            await gate.close()
            safety.close()


def _bash(command: str) -> Turn:
    return Turn.tool_use("bash", {"command": command})


def _payloads(events: list[events_pb2.Event]) -> list[str]:
    return [e.WhichOneof("payload") for e in events]


async def _run(h: Harness, until: int) -> asyncio.Task[None]:
    task = asyncio.ensure_future(h.loop.run())
    await asyncio.wait_for(h.until_status(until), 60)
    return task


async def _cancel(h: Harness, task: asyncio.Task[None]) -> None:
    h.loop.cancel("test over")
    await asyncio.wait_for(task, 30)


async def test_a_bash_step_runs_and_its_output_reaches_the_model(tmp_path: Path, bus: Bus) -> None:
    file = tmp_path / "home" / "note.txt"
    turns = [_bash(f"echo hello > {file} && cat {file}"), Turn.text("done")]
    async with harness(tmp_path, bus, turns) as h:
        task = await _run(h, S.SESSION_STATUS_WAITING_INPUT)
        assert file.read_text() == "hello\n"
        [result] = h.results_sent(1)
        assert result["content"][0]["text"] == "hello"
        assert not result.get("is_error")

        h.loop.send_message("and now?", "tester")
        await asyncio.wait_for(h.until_status(S.SESSION_STATUS_WAITING_INPUT, steps=3), 30)
        assert h.model.message_requests[2].messages[-1]["content"][-1]["text"] == "and now?"
        await _cancel(h, task)

        events = await h.events()
        assert [e.sequence for e in events] == list(range(1, len(events) + 1))
        kinds = _payloads(events)
        step = kinds[kinds.index("action_proposed") :]
        expected = ["action_proposed", "safety_verdict", "action_executed", "content_scanned"]
        assert step[:4] == expected
        assert kinds[-1] == "session_finished"
        record = await h.store.get("s-loop")
        assert record.session.status == S.SESSION_STATUS_CANCELLED
        usage = record.session.usage
        assert record.session.steps == 3 and record.last_committed_step == 3
        assert usage.cache_read_input_tokens > 0 and usage.output_tokens > 0  # the cache is used
        assert usage.cost_usd > 0


async def test_a_blocked_action_is_refused_and_the_rest_are_not_run(
    tmp_path: Path, bus: Bus
) -> None:
    marker = tmp_path / "home" / "should-not-exist"
    two_calls = Turn(
        content=[
            TextBlock(text="cleaning up"),
            ToolUseBlock(name="bash", input={"command": "rm -rf /"}),
            ToolUseBlock(name="bash", input={"command": f"touch {marker}"}),
        ]
    )
    async with harness(tmp_path, bus, [two_calls, Turn.text("ok")]) as h:
        task = await _run(h, S.SESSION_STATUS_WAITING_INPUT)
        blocked, skipped = h.results_sent(1)
        assert blocked["is_error"] and "Blocked by the safety gate" in blocked["content"][0]["text"]
        assert skipped["is_error"] and skipped["content"][0]["text"].startswith("Not run")
        assert not marker.exists()
        await _cancel(h, task)
        verdicts = [e.safety_verdict for e in await h.events() if e.HasField("safety_verdict")]
        assert len(verdicts) == 1 and verdicts[0].verdict.decision == 3  # BLOCK


@pytest.mark.parametrize("approve", [True, False])
async def test_a_confirmed_action_waits_for_a_person(
    tmp_path: Path, bus: Bus, approve: bool
) -> None:
    async with harness(tmp_path, bus, [_bash("sudo -n true; echo ran"), Turn.text("ok")]) as h:
        task = asyncio.ensure_future(h.loop.run())
        await asyncio.wait_for(h.until_status(S.SESSION_STATUS_WAITING_CONFIRMATION), 60)
        pending = (await h.store.get("s-loop")).session.pending_confirmation_id
        assert pending
        h.loop.resolve_confirmation(pending, approve, "alice", "" if approve else "not now")
        await asyncio.wait_for(h.until_status(S.SESSION_STATUS_WAITING_INPUT), 60)
        [result] = h.results_sent(1)
        text = result["content"][0]["text"]
        if approve:
            assert "ran" in text
        else:
            assert result["is_error"] and "did not approve" in text and "not now" in text
        resolved = [e for e in await h.events() if e.HasField("confirmation_resolved")]
        assert resolved[0].confirmation_resolved.approved is approve
        assert resolved[0].confirmation_resolved.resolved_by == "alice"
        await _cancel(h, task)


async def test_an_unanswered_confirmation_counts_as_denied(tmp_path: Path, bus: Bus) -> None:
    turns = [_bash("sudo -n true"), Turn.text("ok")]
    async with harness(tmp_path, bus, turns, confirmation_timeout=0.2) as h:
        task = await _run(h, S.SESSION_STATUS_WAITING_INPUT)
        [result] = h.results_sent(1)
        assert result["is_error"] and "no one answered" in result["content"][0]["text"]
        await _cancel(h, task)


async def test_max_steps_ends_the_session_cleanly(tmp_path: Path, bus: Bus) -> None:
    turns = [_bash("echo 1"), _bash("echo 2"), _bash("echo 3")]
    async with harness(tmp_path, bus, turns) as h:
        h.loop.session.config.limits.max_steps = 2
        await asyncio.wait_for(h.loop.run(), 60)
        record = await h.store.get("s-loop")
        assert record.session.status == S.SESSION_STATUS_FINISHED
        assert record.session.status_reason == "max_steps reached (2)"
        assert len(h.model.message_requests) == 2


async def test_sdk_retries_are_published_as_events(tmp_path: Path, bus: Bus) -> None:
    turns = [Turn.failure(529), Turn.text("fine")]
    async with harness(tmp_path, bus, turns) as h:
        task = await _run(h, S.SESSION_STATUS_WAITING_INPUT)
        retries = [e.model_retry for e in await h.events() if e.HasField("model_retry")]
        assert [r.attempt for r in retries] == [1]
        assert retries[0].reason.startswith("529") and retries[0].wait_seconds > 0
        await _cancel(h, task)
