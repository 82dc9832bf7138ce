"""Arbitrary CheckAction and ScanContent requests against the real Safety service: every
one gets an answer or a precise client error, never INTERNAL (hypothesis, bounded)."""

from __future__ import annotations

import io
import struct
import zlib

import grpc
import pytest
from google.protobuf.struct_pb2 import Struct
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from deskpilot.safety.categories import ALL_CATEGORIES
from deskpilot.v1 import common_pb2, safety_pb2, safety_pb2_grpc
from tests.helpers.fuzz import answer

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
CLIENT_ERRORS = {grpc.StatusCode.INVALID_ARGUMENT}


def _png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (width, height), 200).save(buffer, "PNG")
    return buffer.getvalue()


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG signature and IHDR claiming a size, with no pixels: only a header read."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", len(ihdr))
        + chunk
        + struct.pack(">I", zlib.crc32(chunk))
    )


SMALL = _png(24, 16)
IMAGES = st.sampled_from(
    [
        b"",
        b"garbage",
        SMALL,
        SMALL[: len(SMALL) // 2],
        _png(1, 3000),
        _png_header_only(100_000, 100_000),
    ]
)
KEYS = st.sampled_from(
    ["command", "action", "coordinate", "text", "path", "file_text", "old_str", "new_str",
     "restart", "scroll_amount", "scroll_direction", "duration", "region", "view_range",
     "insert_line", "start_coordinate"]
) | st.text(max_size=8)  # fmt: skip
SCALARS = (
    st.none()
    | st.booleans()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.integers(-(2**40), 2**40)
    | st.text(max_size=40)
    | st.sampled_from(["rm -rf /", "$(echo rm) -rf /", "left_click", "type", "view", "/etc/shadow"])
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=12,
)
TOOLS = st.sampled_from(
    ["bash", "computer", "str_replace_editor", "str_replace_based_edit_tool", "left_click",
     "type", "zoom", "screenshot", ""]
) | st.text(max_size=12)  # fmt: skip


@st.composite
def tool_calls(draw: st.DrawFn) -> common_pb2.ToolCall:
    arguments = Struct()
    arguments.update(draw(st.dictionaries(KEYS, JSON, max_size=5)))
    return common_pb2.ToolCall(name=draw(TOOLS), input=arguments)


@st.composite
def policies(draw: st.DrawFn) -> safety_pb2.SafetyPolicy | None:
    if draw(st.booleans()):
        return None
    categories = st.sampled_from(sorted(ALL_CATEGORIES)) | st.text(max_size=10)
    rule = st.builds(
        safety_pb2.PolicyRule,
        id=st.sampled_from(["a.rule", "Bad Id", ""]),
        tools=st.lists(TOOLS, max_size=2),
        pattern=st.sampled_from(["(a+)+$", "rm", "(", "(?=x)", "a{1001}", ""])
        | st.text(max_size=12),
        decision=st.integers(-3, 99),
        reason=st.sampled_from(["Why.", ""]),
    )
    return safety_pb2.SafetyPolicy(
        allowed_domains=draw(
            st.lists(st.sampled_from(["example.com", "a b", ""]) | st.text(max_size=10), max_size=3)
        ),
        category_decisions=draw(st.dictionaries(categories, st.integers(-5, 99), max_size=3)),
        rules=draw(st.lists(rule, max_size=2)),
        taint_threshold=draw(st.floats(width=32, allow_nan=True)),
        confirm_threshold=draw(st.floats(width=32, allow_nan=True)),
    )


@st.composite
def check_requests(draw: st.DrawFn) -> safety_pb2.CheckActionRequest:
    context = safety_pb2.ActionContext(
        session_id=draw(st.sampled_from(["", "fuzz-1", "fuzz-2"])),
        screenshot=common_pb2.Image(data=draw(IMAGES), format=draw(st.integers(0, 9))),
        url=draw(st.sampled_from(["", "https://example.com/", "not a url"])),
        window_title=draw(st.sampled_from(["", "Terminal", "Mozilla Firefox"])),
        tainted=draw(st.booleans()),
        previous_call=draw(tool_calls()),
    )
    return safety_pb2.CheckActionRequest(
        call=draw(tool_calls()), context=context, policy=draw(policies())
    )


@st.composite
def scan_requests(draw: st.DrawFn) -> safety_pb2.ScanContentRequest:
    request = safety_pb2.ScanContentRequest(
        source=draw(st.integers(0, 9)),
        session_id=draw(st.sampled_from(["", "fuzz-1"])),
        policy=draw(policies()),
    )
    which = draw(st.sampled_from(["text", "image", "none"]))
    if which == "text":
        request.text = draw(st.text(max_size=300))
    elif which == "image":
        request.image.data = draw(IMAGES)
    return request


def _answered_or_refused_precisely(code: grpc.StatusCode, details: str) -> bool:
    """Answered, or refused as the client's error with a message saying why."""
    return code == grpc.StatusCode.OK or (code in CLIENT_ERRORS and bool(details))


@FUZZ
@given(request=check_requests())
def test_check_action_never_fails_internally(
    sync_safety_stub: safety_pb2_grpc.SafetyStub, request: safety_pb2.CheckActionRequest
) -> None:
    code, details = answer(sync_safety_stub.CheckAction, request)
    assert _answered_or_refused_precisely(code, details), (code, details, request)


@FUZZ
@given(request=scan_requests())
def test_scan_content_never_fails_internally(
    sync_safety_stub: safety_pb2_grpc.SafetyStub, request: safety_pb2.ScanContentRequest
) -> None:
    code, details = answer(sync_safety_stub.ScanContent, request)
    assert _answered_or_refused_precisely(code, details), (code, details, request)


@FUZZ
@given(policy=policies())
def test_validate_policy_answers_every_policy(
    sync_safety_stub: safety_pb2_grpc.SafetyStub, policy: safety_pb2.SafetyPolicy | None
) -> None:
    reply = sync_safety_stub.ValidatePolicy(
        safety_pb2.ValidatePolicyRequest(policy=policy), timeout=60
    )
    assert all(p.field and p.message for p in reply.problems)


@pytest.mark.parametrize("data", [_png_header_only(100_000, 100_000), _png_header_only(0, 0)])
def test_crafted_headers_are_refused_without_decoding(
    sync_safety_stub: safety_pb2_grpc.SafetyStub, data: bytes
) -> None:
    with pytest.raises(grpc.RpcError) as info:
        sync_safety_stub.ScanContent(
            safety_pb2.ScanContentRequest(image=common_pb2.Image(data=data)), timeout=60
        )
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
