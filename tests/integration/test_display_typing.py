"""Typing and keys through the Display service, read back from a real terminal: an xterm
running `cat > file` receives the keystrokes and the file shows exactly what arrived."""

from __future__ import annotations

import random
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.protobuf import struct_pb2

from deskpilot.sandbox.xserver import XServer
from deskpilot.v1 import common_pb2, display_pb2
from tests.fixtures.xdisplay import DisplayService, keys_held, wait_until_viewable

pytestmark = [
    pytest.mark.x11,
]

TOOLSET = "computer_toolset_20260801"


class CatTerminal:
    """An xterm at a fixed place whose shell copies its keyboard input to `path`."""

    def __init__(self, server: XServer, path: Path, title: str) -> None:
        self.path = path
        self.process = subprocess.Popen(
            [
                "xterm", "-T", title, "-geometry", "100x30+0+0", "-u8",
                "-xrm", "XTerm*allowSendEvents: false",
                "-e", "sh", "-c", 'stty -echo; exec cat > "$0"', str(path),
            ],
            env={**server.env(), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"},
        )  # fmt: skip
        wait_until_viewable(server.display, title)
        deadline = time.monotonic() + 10
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.02)

    def finish(self) -> str:
        """End input (ctrl+d on an empty line is done by the caller) and read the file."""
        self.process.wait(timeout=15)
        return self.path.read_text(encoding="utf-8")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=5)


@pytest.fixture
def terminal(
    x_display: XServer, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[CatTerminal]:
    term = CatTerminal(x_display, tmp_path / "typed.txt", f"cat-{request.node.name}")
    try:
        yield term
    finally:
        term.close()


async def act_raw(service: DisplayService, name: str, **fields: object) -> display_pb2.ActResponse:
    payload = struct_pb2.Struct()
    payload.update(fields)
    call = common_pb2.ToolCall(name=name, tool_type=TOOLSET, input=payload)
    return await service.stub.Act(display_pb2.ActRequest(tool_call=call))


async def focus(service: DisplayService) -> None:
    # No window manager: keyboard focus follows the pointer, so put it over the terminal.
    await act_raw(service, "mouse_move", coordinate=[200, 100])


async def end_input(service: DisplayService) -> None:
    await act_raw(service, "key", text="ctrl+d")


async def test_unicode_text_arrives_exactly(
    display_service: DisplayService, terminal: CatTerminal
) -> None:
    await focus(display_service)
    text = "héllo wörld ✓ 日本語\n\tindented — “quotes” ÆØÅ ß € 😀\n"
    await act_raw(display_service, "type", text=text)
    await end_input(display_service)
    assert terminal.finish() == text
    assert keys_held(display_service.display) == []


async def test_two_thousand_mixed_characters_arrive_complete_and_in_order(
    display_service: DisplayService, terminal: CatTerminal
) -> None:
    rng = random.Random(20260801)
    alphabet = (
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        " !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~\t"
        "éèàçüöäñßøåæœ€£¥©®°±µ¶·¿¡ÀÉÎÕÜ"
        "αβγδεζηθλμπσφψωАБВГДЖЗИЙКЛМНОПРСТУФ"
        "✓✗→←↑↓★☆♠♣♥♦∞≈≠≤≥∑∏√∫日本語中文한국어"
    )
    lines = []
    while sum(len(line) + 1 for line in lines) < 2000:
        lines.append("".join(rng.choice(alphabet) for _ in range(rng.randint(10, 90))))
    text = "\n".join(lines)[:1999] + "\n"
    assert len(text) == 2000
    await focus(display_service)
    await act_raw(display_service, "type", text=text)
    await end_input(display_service)
    assert terminal.finish() == text


async def test_key_combinations_and_repeat(
    display_service: DisplayService, terminal: CatTerminal
) -> None:
    await focus(display_service)
    await act_raw(display_service, "type", text="abcdef")
    await act_raw(display_service, "key", text="BackSpace", repeat=3)  # "abc"
    await act_raw(display_service, "key", text="shift+x")  # "abcX"
    await act_raw(display_service, "key", text="RETURN")  # case-insensitive name
    await act_raw(display_service, "type", text="junk")
    await act_raw(display_service, "key", text="ctrl+u")  # kill the line: cooked mode
    await act_raw(display_service, "key", text="Tab")
    await act_raw(display_service, "key", text="enter")  # alias
    await end_input(display_service)
    assert terminal.finish() == "abcX\n\t\n"
    assert keys_held(display_service.display) == []


async def test_hold_key_holds_then_releases(
    display_service: DisplayService, terminal: CatTerminal
) -> None:
    await focus(display_service)
    # Holding shift while nothing else is pressed types nothing, and leaves nothing held.
    await act_raw(display_service, "hold_key", text="shift", duration=1)
    assert keys_held(display_service.display) == []
    await act_raw(display_service, "type", text="ok\n")
    await end_input(display_service)
    assert terminal.finish() == "ok\n"


async def test_keymap_changes_do_not_pile_up_on_the_executor_connection(
    display_service: DisplayService, terminal: CatTerminal
) -> None:
    # Each character typed through a spare keycode is a keymap change, which X reports to
    # every client: the executor's input connection must not keep those reports.
    await focus(display_service)
    text = "日本語中文한국어✓✗→←★☆" * 4 + "\n"
    await act_raw(display_service, "type", text=text)
    executor = display_service.executor
    assert executor.input is not None
    assert await executor._x(executor.input.display.pending_events) == 0
    await end_input(display_service)
    assert terminal.finish() == text
