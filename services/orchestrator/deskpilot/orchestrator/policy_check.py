"""A new session's safety policy, checked by the gate's own validator before it starts.

An override the gate would refuse makes it reject every action of the session, so
CreateSession refuses the session instead, naming the field; and when the gate cannot
check the policy, the session is not created with an unchecked one.
"""

from __future__ import annotations

from deskpilot.common.errors import FieldViolation, InvalidArgument, Unavailable
from deskpilot.common.safety_client import PolicyCheckUnavailable, SafetyGate
from deskpilot.v1 import session_pb2


async def check_safety_policy(gate: SafetyGate, config: session_pb2.SessionConfig) -> None:
    """Raise InvalidArgument naming each bad `config.safety_policy` field, or Unavailable
    when the gate cannot tell; return when there is no policy or it is valid."""
    if not config.HasField("safety_policy") or config.safety_policy.ByteSize() == 0:
        return
    try:
        problems = await gate.validate_policy(config.safety_policy)
    except PolicyCheckUnavailable as exc:
        raise Unavailable(
            f"config.safety_policy cannot be checked: {exc}; the session was not created "
            "(retry when the gate answers)"
        ) from None
    if problems:
        violations = [
            FieldViolation(f"config.safety_policy.{p.field}", p.message) for p in problems
        ]
        raise InvalidArgument(
            "; ".join(f"{v.field}: {v.description}" for v in violations), violations=violations
        )
