"""CreateSession checks a session's safety policy with the gate's own validator: a real
orchestrator replica, the real safety service (see tests/fixtures/orchestrator.py)."""

from __future__ import annotations

import grpc
import pytest

from deskpilot.common.net import free_port
from deskpilot.standin import Turn
from deskpilot.v1 import orchestrator_pb2, safety_pb2, session_pb2
from deskpilot.v1 import orchestrator_pb2_grpc as rpc
from tests.fixtures.orchestrator import follow_events, status_is

S = session_pb2
BLOCK = safety_pb2.DECISION_BLOCK


def _request(policy: safety_pb2.SafetyPolicy) -> orchestrator_pb2.CreateSessionRequest:
    config = S.SessionConfig(
        task="do it", model="claude-sonnet-4-6", tool_set=S.TOOL_SET_20250124, safety_policy=policy
    )
    return orchestrator_pb2.CreateSessionRequest(config=config)


def _rule(pattern: str) -> safety_pb2.PolicyRule:
    return safety_pb2.PolicyRule(id="s.rule", pattern=pattern, decision=BLOCK, reason="No.")


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        (
            safety_pb2.SafetyPolicy(rules=[_rule("(unclosed")]),
            "config.safety_policy.rules[0].pattern: pattern '(unclosed' is not a valid RE2",
        ),
        (
            safety_pb2.SafetyPolicy(category_decisions={"paymnet": BLOCK}),
            "config.safety_policy.category_decisions['paymnet']: unknown category 'paymnet'",
        ),
        (
            safety_pb2.SafetyPolicy(taint_threshold=7),
            "config.safety_policy.taint_threshold: must be in (0, 1]",
        ),
        (
            safety_pb2.SafetyPolicy(category_decisions={"destruction": 1}),
            "config.safety_policy.category_decisions['destruction']: a session may not relax",
        ),
        (
            safety_pb2.SafetyPolicy(category_decisions={"sudo": 99}),
            "config.safety_policy.category_decisions['sudo']: decision 99 is not one of",
        ),
    ],
)
async def test_an_invalid_safety_policy_is_refused_at_create(
    orchestrator_stack, policy: safety_pb2.SafetyPolicy, message: str
) -> None:
    async with orchestrator_stack([]) as stack:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stack.stub.CreateSession(_request(policy))
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert message in info.value.details()
        listed = await stack.stub.ListSessions(orchestrator_pb2.ListSessionsRequest())
        assert list(listed.sessions) == []  # nothing was stored


async def test_a_valid_policy_is_accepted_and_applies(orchestrator_stack) -> None:
    turns = [Turn.tool_use("bash", {"command": "echo deploy-prod"}), Turn.text("Done.")]
    async with orchestrator_stack(turns) as stack:
        policy = safety_pb2.SafetyPolicy(rules=[_rule("deploy-prod")], taint_threshold=0.4)
        session = (await stack.stub.CreateSession(_request(policy))).session
        events = await follow_events(
            stack.stub, session.id, status_is(S.SESSION_STATUS_WAITING_INPUT)
        )
        [result] = [e.tool_result for e in events if e.HasField("tool_result")]
        assert result.is_error and "No." in result.text  # the session's own rule blocked it


async def test_a_policy_is_not_accepted_unchecked_when_the_gate_is_down(
    orchestrator_stack,
) -> None:
    async with orchestrator_stack([]) as stack:
        dead_gate = await stack.add_replica(
            safety_address=f"127.0.0.1:{free_port()}", safety_timeout_seconds=2.0
        )
        stub: rpc.OrchestratorStub = dead_gate.stub
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.CreateSession(_request(safety_pb2.SafetyPolicy(taint_threshold=0.4)))
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "config.safety_policy cannot be checked" in info.value.details()
        assert "the session was not created" in info.value.details()


def _verdict_events(events: list) -> list:
    return [e.safety_verdict for e in events if e.HasField("safety_verdict")]


async def test_a_rule_named_like_the_gates_own_is_a_judgement_not_a_fail_closed_block(
    orchestrator_stack,
) -> None:
    # Rule ids are free-form: a session's own "gate.*" rule blocks as a judgement.
    turns = [Turn.tool_use("bash", {"command": "echo deploy-prod"}), Turn.text("Done.")]
    async with orchestrator_stack(turns) as stack:
        rule = safety_pb2.PolicyRule(
            id="gate.no-deploy", pattern="deploy-prod", decision=BLOCK, reason="No."
        )
        session = (
            await stack.stub.CreateSession(_request(safety_pb2.SafetyPolicy(rules=[rule])))
        ).session
        events = await follow_events(
            stack.stub, session.id, status_is(S.SESSION_STATUS_WAITING_INPUT)
        )
        [verdict] = _verdict_events(events)
        assert verdict.verdict.decision == BLOCK
        assert verdict.verdict.reasons[0].rule_id == "gate.no-deploy"
        assert not verdict.fail_closed and not verdict.verdict.fail_closed


async def test_an_unreachable_gate_blocks_and_says_it_was_fail_closed(orchestrator_stack) -> None:
    turns = [Turn.tool_use("bash", {"command": "echo hi"}), Turn.text("Done.")]
    async with orchestrator_stack(turns) as stack:
        dead_gate = await stack.add_replica(
            safety_address=f"127.0.0.1:{free_port()}", safety_timeout_seconds=2.0
        )
        config = S.SessionConfig(task="do it", model="claude-sonnet-4-6")
        create = orchestrator_pb2.CreateSessionRequest(config=config)
        session = (await dead_gate.stub.CreateSession(create)).session
        events = await follow_events(
            dead_gate.stub, session.id, status_is(S.SESSION_STATUS_WAITING_INPUT)
        )
        [verdict] = _verdict_events(events)
        assert verdict.verdict.decision == BLOCK
        assert verdict.fail_closed and verdict.verdict.fail_closed
        [result] = [e.tool_result for e in events if e.HasField("tool_result")]
        assert result.is_error and "unreachable" in result.text
