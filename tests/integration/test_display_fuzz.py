"""Fuzzing: whatever ActRequest a client sends, the real Display service acts on it or
refuses it with a precise status, never INTERNAL (or UNKNOWN)."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager, asynccontextmanager
from typing import Any

import grpc
import pytest
from hypothesis import given
from hypothesis import strategies as st

from deskpilot.common.config import load_settings
from deskpilot.common.grpc_server import GrpcServer
from deskpilot.display.executor import DisplayExecutor
from deskpilot.display.service import display_binding
from deskpilot.display.settings import DisplaySettings
from deskpilot.sandbox.xserver import XServer
from deskpilot.v1 import common_pb2, display_pb2, display_pb2_grpc
from tests.fixtures.grpc import serving_in_thread
from tests.helpers.fuzz import EDGE_NUMBERS, NOT_PRECISE, answer, fuzz_settings, struct

pytestmark = pytest.mark.x11

_FUZZ = fuzz_settings(300)

NUMBERS = st.one_of(
    st.integers(-3, 2000),
    st.sampled_from(EDGE_NUMBERS),
)
# Durations only where they are refused or short: a valid `wait` of 60 s would stall the run.
DURATIONS = st.sampled_from([0, -1, 61, 1e9, 0.5, math.nan, math.inf, "1", None])
TEXT = st.one_of(
    st.sampled_from(["", " ", "a", "+a", "ctrl++", "ctrl+", "+", "shift+plus", "Return",
                     "ctrl+nosuchkey", "\x00", "a\x00b", "\x7f", "é✓", "\n", "$(reboot)"]),
    st.text(max_size=6),
)  # fmt: skip
JSON = st.recursive(
    st.none() | st.booleans() | NUMBERS | TEXT,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=6,
)
ACTIONS = ["key", "hold_key", "type", "cursor_position", "mouse_move", "left_mouse_down",
           "left_mouse_up", "left_click", "right_click", "middle_click", "double_click",
           "triple_click", "left_click_drag", "scroll", "wait", "screenshot", "zoom",
           "explode"]  # fmt: skip
FIELDS = ["coordinate", "start_coordinate", "text", "scroll_direction", "scroll_amount",
          "region", "repeat"]  # fmt: skip
TOOL_TYPES = ["", "computer_19990101", "computer_20241022", "computer_20250124",
              "computer_20251124", "computer_toolset_20260801"]  # fmt: skip


def _value(field: str) -> st.SearchStrategy[Any]:
    if field == "duration":
        return DURATIONS
    if field in ("coordinate", "start_coordinate", "region"):
        return st.lists(NUMBERS, max_size=5) | JSON
    if field == "scroll_direction":
        return st.sampled_from(["up", "down", "left", "right", "sideways", ""]) | JSON
    return JSON


@st.composite
def tool_inputs(draw: st.DrawFn) -> dict[str, Any]:
    chosen = draw(st.lists(st.sampled_from([*FIELDS, "duration", "extra"]), max_size=4))
    fields = {name: draw(_value(name)) for name in chosen}
    if draw(st.booleans()):
        fields["action"] = draw(st.sampled_from(ACTIONS) | JSON)
    return fields


TOOL_CALLS = st.builds(
    lambda name, tool_type, arguments: common_pb2.ToolCall(
        name=name, tool_type=tool_type, input=struct(arguments)
    ),
    st.sampled_from(["computer", "", "bash", *ACTIONS]),
    st.sampled_from(TOOL_TYPES),
    tool_inputs(),
)
# Calls that are well formed but for their values, so execution is reached, not only parsing.
ON_SCREEN = st.lists(st.integers(0, 1279), min_size=2, max_size=2) | st.lists(NUMBERS, max_size=3)
PLAUSIBLE_FIELDS: dict[str, dict[str, st.SearchStrategy[Any]]] = {
    "key": {"text": TEXT},
    "type": {"text": TEXT},
    "hold_key": {"text": TEXT, "duration": DURATIONS},
    "mouse_move": {"coordinate": ON_SCREEN},
    "left_click": {"coordinate": ON_SCREEN, "text": TEXT},
    "double_click": {"coordinate": ON_SCREEN},
    "left_click_drag": {"start_coordinate": ON_SCREEN, "coordinate": ON_SCREEN},
    "scroll": {
        "coordinate": ON_SCREEN,
        "scroll_direction": st.sampled_from(["up", "down", "left", "right", "sideways"]),
        "scroll_amount": NUMBERS,
        "text": TEXT,
    },
    "zoom": {"region": st.lists(st.integers(-5, 1300), min_size=4, max_size=4)},
    "left_mouse_down": {},
    "left_mouse_up": {},
    "screenshot": {},
    "cursor_position": {},
}


@st.composite
def plausible_calls(draw: st.DrawFn) -> common_pb2.ToolCall:
    action = draw(st.sampled_from(sorted(PLAUSIBLE_FIELDS)))
    fields: dict[str, Any] = {"action": action}
    for name, values in PLAUSIBLE_FIELDS[action].items():
        if draw(st.integers(0, 4)):  # mostly present
            fields[name] = draw(values)
    tool_type = draw(st.sampled_from(TOOL_TYPES[2:5]))
    return common_pb2.ToolCall(name="computer", tool_type=tool_type, input=struct(fields))


INT32 = st.integers(-3, 3000) | st.sampled_from([2**31 - 1, -(2**31)])
POINTS = st.builds(lambda x, y: common_pb2.Point(x=x, y=y), INT32, INT32)
TYPED_ACTIONS = st.one_of(
    st.builds(
        lambda t, r: display_pb2.ComputerAction(key=display_pb2.KeyAction(text=t, repeat=r)),
        TEXT,
        st.integers(-2, 3),
    ),
    st.builds(lambda t: display_pb2.ComputerAction(type=display_pb2.TypeAction(text=t)), TEXT),
    st.builds(
        lambda p, m: display_pb2.ComputerAction(
            left_click=display_pb2.ClickAction(coordinate=p, modifiers=m)
        ),
        POINTS,
        TEXT,
    ),
    st.builds(
        lambda p: display_pb2.ComputerAction(mouse_move=display_pb2.MouseMoveAction(coordinate=p)),
        POINTS,
    ),
    st.builds(
        lambda d, a: display_pb2.ComputerAction(
            scroll=display_pb2.ScrollAction(direction=d, amount=a)
        ),
        st.integers(-1, 6),
        st.integers(-2, 200),
    ),
    st.builds(
        lambda a, b, c, d: display_pb2.ComputerAction(
            zoom=display_pb2.ZoomAction(region=common_pb2.Rect(x0=a, y0=b, x1=c, y1=d))
        ),
        INT32,
        INT32,
        INT32,
        INT32,
    ),
    st.just(display_pb2.ComputerAction()),
)
SCREEN_SPACES = st.builds(
    lambda mode, width, height: display_pb2.ScreenSpace(
        mode=mode, target=common_pb2.Size(width=width, height=height)
    ),
    st.integers(-1, 5),
    INT32,
    INT32,
)
SCREENSHOT_OPTIONS = st.builds(
    lambda image, quality: display_pb2.ScreenshotOptions(format=image, quality=quality),
    st.integers(-1, 5),
    st.integers(-5, 200),
)
SETTLE = st.builds(
    lambda quiet, limit, off: display_pb2.SettlePolicy(quiet_ms=quiet, max_ms=limit, disabled=off),
    st.sampled_from([0, 5, -1, 10**6]),
    st.sampled_from([0, 50, -1, 2**31 - 1]),
    st.booleans(),
)


def _often_unset(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly absent, so the action itself is reached rather than refused on its options."""
    return st.one_of(st.none(), st.none(), strategy)


def _act_request(body: tuple, version: int, *options: Any) -> display_pb2.ActRequest:
    space, image, settle, key, shot = options
    request = display_pb2.ActRequest(version=version, idempotency_key=key, return_screenshot=shot)
    if body:
        getattr(request, body[0]).CopyFrom(body[1])
    for field, value in (
        ("screen_space", space),
        ("screenshot_options", image),
        ("settle", settle),
    ):
        if value is not None:
            getattr(request, field).CopyFrom(value)
    return request


ACT_REQUESTS = st.builds(
    _act_request,
    st.one_of(
        TOOL_CALLS.map(lambda call: ("tool_call", call)),
        plausible_calls().map(lambda call: ("tool_call", call)),
        plausible_calls().map(lambda call: ("tool_call", call)),
        TYPED_ACTIONS.map(lambda action: ("action", action)),
        st.just(()),
    ),
    _often_unset(st.integers(-1, 5)).map(lambda version: version or 0),
    _often_unset(SCREEN_SPACES),
    _often_unset(SCREENSHOT_OPTIONS),
    _often_unset(SETTLE),
    _often_unset(st.sampled_from(["fuzz", "k" * 300])).map(lambda key: key or ""),
    st.booleans(),
)


@pytest.fixture(scope="module")
def fuzz_display(
    start_x_display: Callable[..., AbstractContextManager[XServer]],
) -> Iterator[XServer]:
    """A display of its own: the fuzz leaves buttons and keys in any state."""
    with start_x_display(mode="xvfb", width=1280, height=800) as server:
        yield server


@pytest.fixture(scope="module")
def sync_display_stub(fuzz_display: XServer) -> Iterator[display_pb2_grpc.DisplayStub]:
    settings = load_settings(DisplaySettings, None, display=fuzz_display.display, port=0)

    @asynccontextmanager
    async def serve() -> AsyncIterator[str]:
        executor = DisplayExecutor(settings)
        await executor.open()
        server = GrpcServer(settings, [display_binding(executor)])
        await server.start()
        try:
            yield server.address
        finally:
            await server.stop(0.5)
            await executor.close()

    with serving_in_thread(serve) as address, grpc.insecure_channel(address) as channel:
        yield display_pb2_grpc.DisplayStub(channel)


@pytest.mark.timeout(600)
@_FUZZ
@given(request=ACT_REQUESTS)
def test_no_act_request_is_an_internal_error(
    sync_display_stub: display_pb2_grpc.DisplayStub, request: display_pb2.ActRequest
) -> None:
    code, details = answer(sync_display_stub.Act, request)
    assert code not in NOT_PRECISE, f"{code}: {details}\n{request}"
