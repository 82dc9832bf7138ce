"""Idempotency keys against the real Display service: a keyed action is performed once,
also when its caller goes away mid-way, and a repeat gets its real outcome (or an explicit
outcome-unknown answer), never a second performance."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable
from contextlib import AbstractContextManager

import grpc
import pytest

from deskpilot.common.config import load_settings
from deskpilot.common.replay import MAX_KEY_BYTES
from deskpilot.display.executor import DisplayExecutor
from deskpilot.display.service import display_binding
from deskpilot.display.settings import DisplaySettings
from deskpilot.sandbox.xserver import XServer
from deskpilot.v1 import display_pb2, display_pb2_grpc
from tests.fixtures.grpc import running_server
from tests.fixtures.xdisplay import DisplayService, keys_held
from tests.integration.test_display_typing import CatTerminal, end_input, focus, terminal

pytestmark = pytest.mark.x11
__all__ = ["terminal"]  # the fixture, used by name


def typing(text: str, key: str) -> display_pb2.ActRequest:
    action = display_pb2.ComputerAction(type=display_pb2.TypeAction(text=text))
    return display_pb2.ActRequest(action=action, idempotency_key=key)


async def test_a_keyed_action_outlives_its_caller_and_is_performed_once(
    display_service: DisplayService, terminal: CatTerminal
) -> None:
    await focus(display_service)
    text = "the quick brown fox jumps over the lazy dog\n" * 12
    request = typing(text, "type-1")
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await display_service.stub.Act(request, timeout=0.05)  # gone mid-way through typing
    assert error.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    again = await display_service.stub.Act(request)
    assert (again.action, again.replayed, again.outcome_unknown) == ("type", True, False)
    await end_input(display_service)
    assert terminal.finish() == text
    assert keys_held(display_service.display) == []


async def test_a_key_over_the_limit_is_invalid_argument(display_service: DisplayService) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await display_service.stub.Act(typing("a", "k" * (MAX_KEY_BYTES + 1)))
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert f"the limit is {MAX_KEY_BYTES} bytes" in error.value.details()


async def test_retries_of_an_action_cut_off_by_the_x_server_dying_are_outcome_unknown(
    start_x_display: Callable[..., AbstractContextManager[XServer]],
) -> None:
    """The action fails part way with UNAVAILABLE; the channel retries UNAVAILABLE on its
    own (common.grpc_client), and that retry and any later one answer outcome-unknown
    instead of acting again."""
    with start_x_display(mode="xvfb", width=640, height=480) as x_server:
        executor = DisplayExecutor(load_settings(DisplaySettings, None, display=x_server.display))
        await executor.open()
        try:
            async with running_server([display_binding(executor)]) as (_server, channel):
                stub = display_pb2_grpc.DisplayStub(channel)
                wait = display_pb2.ComputerAction(wait=display_pb2.WaitAction(duration_seconds=1))
                request = display_pb2.ActRequest(action=wait, idempotency_key="wait-1")
                first = asyncio.ensure_future(stub.Act(request))
                await asyncio.sleep(0.2)
                for pid in x_server.pids:
                    os.kill(pid, signal.SIGKILL)  # the X server dies mid-action
                for answer in (await first, await stub.Act(request)):
                    assert (answer.replayed, answer.outcome_unknown) == (True, True)
                    assert "UNAVAILABLE" in answer.output and "may or may not" in answer.output
        finally:
            with contextlib.suppress(Exception):
                await executor.close()
