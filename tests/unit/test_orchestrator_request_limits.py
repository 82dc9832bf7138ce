"""The request size table covers every field of the Orchestrator API that can grow."""

from __future__ import annotations

import pytest

from deskpilot.common.config import SettingsError, load_settings
from deskpilot.common.errors import InvalidArgument
from deskpilot.orchestrator.request_limits import LIMITS, check_sizes, unlimited_fields
from deskpilot.orchestrator.settings import OrchestratorSettings
from deskpilot.v1 import orchestrator_pb2, safety_pb2, session_pb2

# ControlCommand and ControlReply travel between replicas, never from clients.
REQUESTS = [
    descriptor
    for name, descriptor in orchestrator_pb2.DESCRIPTOR.message_types_by_name.items()
    if name.endswith("Request")
]


def test_every_request_of_the_service_is_covered() -> None:
    service = orchestrator_pb2.DESCRIPTOR.services_by_name["Orchestrator"]
    assert {m.input_type.full_name for m in service.methods} == {d.full_name for d in REQUESTS}


@pytest.mark.parametrize("request_type", REQUESTS, ids=lambda d: d.name)
def test_every_growing_field_has_a_limit(request_type) -> None:
    assert unlimited_fields(request_type) == []


def test_every_limit_names_a_real_field() -> None:
    reachable: set[str] = set()

    def walk(message) -> None:
        for field in message.fields:
            if field.full_name not in reachable:
                reachable.add(field.full_name)
                if field.message_type is not None:
                    walk(field.message_type)

    for request_type in REQUESTS:
        walk(request_type)
    assert set(LIMITS) <= reachable


def test_the_first_field_over_its_limit_is_named_with_the_limit() -> None:
    request = orchestrator_pb2.CreateSessionRequest(
        config=session_pb2.SessionConfig(
            task="t",
            safety_policy=safety_pb2.SafetyPolicy(
                rules=[safety_pb2.PolicyRule(tools=["bash"] * 21)]
            ),
        )
    )
    with pytest.raises(InvalidArgument) as info:
        check_sizes(request)
    assert info.value.message == (
        "config.safety_policy.rules[0].tools has 21 entries; the limit is 20"
    )


def test_requests_within_the_limits_pass() -> None:
    config = session_pb2.SessionConfig(
        task="t" * 100_000, labels={"k" * 63: "v" * 256}, system_prompt_suffix="s" * 50_000
    )
    check_sizes(orchestrator_pb2.CreateSessionRequest(config=config, request_id="r" * 200))


ARABIC_INDIC_1280X800 = "\u0661\u0662\u0668\u0660x\u0668\u0660\u0660"


def test_the_default_display_takes_ascii_digits_only() -> None:
    try:
        load_settings(OrchestratorSettings, None, default_display=ARABIC_INDIC_1280X800)
    except SettingsError as error:
        assert "default_display" in str(error)
    else:
        raise AssertionError("Arabic-Indic digits were accepted as a display size")
