"""The fail-closed client of the safety gate: anything but a clear verdict is BLOCK.

It lives in the common library so callers (the orchestrator) need none of the gate's own
dependencies (OCR, the model)."""

from __future__ import annotations

import logging

import grpc

from deskpilot.common.client_tokens import TokenSource
from deskpilot.common.grpc_client import open_channel
from deskpilot.v1 import common_pb2, safety_pb2, safety_pb2_grpc

log = logging.getLogger("deskpilot.safety_client")
_VALID = (safety_pb2.DECISION_ALLOW, safety_pb2.DECISION_CONFIRM, safety_pb2.DECISION_BLOCK)


class PolicyCheckUnavailable(Exception):
    """The gate could not check a policy (unreachable, timed out, erroring, or answering
    with something that is not a ValidatePolicy response); the message says which."""


def blocked(rule_id: str, message: str) -> safety_pb2.Verdict:
    """The fail-closed verdict: BLOCK, marked `fail_closed`, with one reason in category
    `gate` saying why there is no judgement."""
    return safety_pb2.Verdict(
        decision=safety_pb2.DECISION_BLOCK,
        fail_closed=True,
        reasons=[
            safety_pb2.Reason(
                rule_id=rule_id,
                category="gate",
                decision=safety_pb2.DECISION_BLOCK,
                message=message,
            )
        ],
    )


class SafetyGate:
    """`await SafetyGate(address).check(call, context)` never raises and never allows by
    accident: unreachable, slow, erroring, undecided or unreadable gates all mean BLOCK
    (a gate that refuses the caller's token too). Each call presents `token`, the caller's
    service identity (role `orchestrator`), over TLS when `credentials` are given."""

    def __init__(
        self,
        address: str,
        *,
        timeout: float = 5.0,
        token: TokenSource | None = None,
        credentials: grpc.ChannelCredentials | None = None,
        channel: grpc.aio.Channel | None = None,
    ) -> None:
        self.address = address
        self.timeout = timeout
        self._own_channel = channel is None
        # No transparent retries: the deadline bounds the whole call.
        self._channel = channel or open_channel(
            address,
            token=token,
            credentials=credentials,
            default_timeout=timeout,
            retry=False,
        )
        self._stub = safety_pb2_grpc.SafetyStub(self._channel)

    async def check(
        self,
        call: common_pb2.ToolCall,
        context: safety_pb2.ActionContext | None = None,
        policy: safety_pb2.SafetyPolicy | None = None,
        task: str = "",
    ) -> safety_pb2.Verdict:
        """The gate's verdict, or BLOCK with a reason saying why there is none. `task` is
        the user's task: trusted context for the gate's judge."""
        request = safety_pb2.CheckActionRequest(
            call=call, context=context, policy=policy, task=task
        )
        try:
            response = await self._stub.CheckAction(request, timeout=self.timeout)
        except grpc.aio.AioRpcError as exc:
            code = exc.code()
            log.warning("safety gate %s: %s %s", self.address, code.name, exc.details())
            if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                return blocked(
                    "gate.timeout",
                    f"The safety gate did not answer within "
                    f"{self.timeout:g} s, so the action is blocked.",
                )
            if code == grpc.StatusCode.UNAVAILABLE:
                return blocked(
                    "gate.unavailable", "The safety gate is unreachable, so the action is blocked."
                )
            return blocked(
                "gate.error", f"The safety gate refused the action ({code.name}: {exc.details()})."
            )
        except Exception as exc:
            log.exception("safety gate %s failed", self.address)
            return blocked("gate.error", f"The safety gate call failed ({type(exc).__name__}).")
        # gRPC hands back None when the answer's bytes do not decode as the response.
        if not isinstance(response, safety_pb2.CheckActionResponse):
            log.warning("safety gate %s answered CheckAction with undecodable bytes", self.address)
            return blocked(
                "gate.error",
                "The safety gate's answer could not be read, so the action is blocked.",
            )
        verdict = response.verdict
        if verdict.decision not in _VALID:
            return blocked("gate.undecided", "The safety gate gave no decision.")
        verdict.fail_closed = False  # a judgement: only this client decides it has none
        return verdict

    async def scan(self, request: safety_pb2.ScanContentRequest) -> safety_pb2.ScanContentResponse:
        """The scan, or — when the gate fails — a CONFIRM-level injection, so the next
        action waits for a person."""
        try:
            response = await self._stub.ScanContent(request, timeout=self.timeout)
        except Exception as exc:  # noqa: BLE001 - fail closed on anything at all
            log.warning("safety scan via %s failed: %s", self.address, exc)
            response = None
        if isinstance(response, safety_pb2.ScanContentResponse):
            return response
        return safety_pb2.ScanContentResponse(
            injection=True, score=1.0, level=safety_pb2.INJECTION_LEVEL_CONFIRM
        )

    async def validate_policy(
        self, policy: safety_pb2.SafetyPolicy
    ) -> list[safety_pb2.PolicyProblem]:
        """What the gate finds wrong with a per-session policy (empty: valid). Raises
        PolicyCheckUnavailable when the gate cannot tell, so no policy goes unchecked."""
        request = safety_pb2.ValidatePolicyRequest(policy=policy)
        try:
            response = await self._stub.ValidatePolicy(request, timeout=self.timeout)
        except grpc.aio.AioRpcError as exc:
            code = exc.code()
            log.warning("safety gate %s: %s %s", self.address, code.name, exc.details())
            if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                reason = f"did not answer within {self.timeout:g} s"
            elif code == grpc.StatusCode.UNAVAILABLE:
                reason = "is unreachable"
            else:
                reason = f"failed ({code.name}: {exc.details()})"
            raise PolicyCheckUnavailable(f"the safety gate at {self.address} {reason}") from None
        except Exception as exc:
            log.exception("safety gate %s failed", self.address)
            raise PolicyCheckUnavailable(
                f"the safety gate at {self.address} failed ({type(exc).__name__})"
            ) from None
        if not isinstance(response, safety_pb2.ValidatePolicyResponse):
            raise PolicyCheckUnavailable(
                f"the safety gate at {self.address} answered with bytes that do not decode"
            )
        return list(response.problems)

    async def close(self) -> None:
        """Close the channel if this gate opened it."""
        if self._own_channel:
            await self._channel.close()

    async def __aenter__(self) -> SafetyGate:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
