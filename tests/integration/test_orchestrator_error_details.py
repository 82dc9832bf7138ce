"""A client points at the bad field of a refused request from the status details
(google.rpc.BadRequest, read with grpcio-status), not by parsing the message: a real
orchestrator replica and safety service (see tests/fixtures/orchestrator.py)."""

from __future__ import annotations

import grpc
import pytest
from grpc_status import rpc_status

from deskpilot.common.errors import FieldViolation, field_violations
from deskpilot.v1 import common_pb2, orchestrator_pb2, safety_pb2, session_pb2

S = session_pb2
BLOCK = safety_pb2.DECISION_BLOCK


def _config(**fields: object) -> S.SessionConfig:
    values: dict[str, object] = {
        "task": "do it",
        "model": "claude-sonnet-4-6",
        "tool_set": S.TOOL_SET_20250124,
    }
    values.update(fields)
    return S.SessionConfig(**values)


async def _refused(call: object) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call  # type: ignore[misc]
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, info.value.details()
    return info.value


@pytest.mark.parametrize(
    ("config", "field"),
    [
        (_config(task="x" * 100_001), "config.task"),
        (_config(task="  "), "config.task"),
        (_config(labels={"k" * 64: "v"}), "config.labels"),
        (_config(labels={"team": "v" * 257}), "config.labels['team']"),
        (
            _config(limits=S.SessionLimits(no_progress_repeats=1)),
            "config.limits.no_progress_repeats",
        ),
        (_config(display=common_pb2.Size(width=10, height=10)), "config.display"),
        (_config(thinking_budget_tokens=5), "config.thinking_budget_tokens"),
    ],
)
async def test_a_bad_create_request_names_its_field_in_the_details(
    orchestrator_stack, config: S.SessionConfig, field: str
) -> None:
    async with orchestrator_stack([]) as stack:
        error = await _refused(
            stack.stub.CreateSession(orchestrator_pb2.CreateSessionRequest(config=config))
        )
        # The message is as before; the details say the same, per field.
        assert field_violations(error) == [FieldViolation(field, error.details())]
        status = rpc_status.from_call(error)
        assert status is not None and status.message == error.details()


async def test_every_bad_safety_policy_field_is_a_violation_of_its_own(orchestrator_stack) -> None:
    rule = safety_pb2.PolicyRule(id="s.rule", pattern="(unclosed", decision=BLOCK, reason="No.")
    policy = safety_pb2.SafetyPolicy(rules=[rule], taint_threshold=7)
    async with orchestrator_stack([]) as stack:
        error = await _refused(
            stack.stub.CreateSession(
                orchestrator_pb2.CreateSessionRequest(config=_config(safety_policy=policy))
            )
        )
        fields = [v.field for v in field_violations(error)]
        assert sorted(fields) == [
            "config.safety_policy.rules[0].pattern",
            "config.safety_policy.taint_threshold",
        ]


async def test_bad_command_requests_name_their_fields(orchestrator_stack) -> None:
    async with orchestrator_stack([]) as stack:
        cases = [
            (stack.stub.SendMessage(orchestrator_pb2.SendMessageRequest(session_id="s-x")), "text"),
            (
                stack.stub.GetSession(orchestrator_pb2.GetSessionRequest(session_id="a b")),
                "session_id",
            ),
            (
                stack.stub.ListSessions(orchestrator_pb2.ListSessionsRequest(page_token="x")),
                "page_token",
            ),
            (
                stack.stub.SendMessage(
                    orchestrator_pb2.SendMessageRequest(session_id="s-x", text="t" * 100_001)
                ),
                "text",
            ),
        ]
        for call, field in cases:
            error = await _refused(call)
            assert [v.field for v in field_violations(error)] == [field]
