"""The live view owns the one open question: a line printed while `Approve? [y/N] ` waits
goes above it and the question is shown again, on a terminal (erasing the question's line)
and elsewhere (a plain newline)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
from collections.abc import Iterator

import pytest

from deskpilot.cli.live import LiveView
from deskpilot.cli.prompt import LineReader
from deskpilot.cli.render import Style
from deskpilot.v1 import events_pb2, session_pb2

E = events_pb2
QUESTION = "Approve? [y/N] "
STATUS = E.Event(status_changed=E.StatusChanged(to=session_pb2.SESSION_STATUS_RUNNING))


@pytest.fixture
def pipe() -> Iterator[tuple[LineReader, int]]:
    """A reader on the read end of a real pipe, and the write end to type into."""
    read_fd, write_fd = os.pipe()
    with os.fdopen(read_fd) as stream:
        yield LineReader(stream), write_fd
    with contextlib.suppress(OSError):  # a test may have closed it (the end of input)
        os.close(write_fd)


async def _until_asked(out: io.StringIO, times: int = 1) -> None:
    while out.getvalue().count(QUESTION) < times:
        await asyncio.sleep(0.01)


async def test_a_line_printed_while_asking_goes_above_the_question(pipe) -> None:
    reader, typing = pipe
    out = io.StringIO()  # not a terminal: the question's line stays, output goes below
    view = LiveView(out, Style())
    answer = asyncio.ensure_future(view.ask(QUESTION, reader))
    await _until_asked(out)
    view.show(STATUS)
    view.line("still waiting")
    os.write(typing, b"y\n")
    assert await answer == "y"
    view.line("after")
    assert out.getvalue() == (
        f"{QUESTION}\nstatus → running\n{QUESTION}\nstill waiting\n{QUESTION}y\nafter\n"
    )


async def test_streamed_text_while_asking_goes_above_the_question_too(pipe) -> None:
    reader, typing = pipe
    out = io.StringIO()
    view = LiveView(out, Style())
    answer = asyncio.ensure_future(view.ask(QUESTION, reader))
    await _until_asked(out)
    for piece in ("Let me ", "check."):
        view.show(E.Event(step=2, model_delta=E.ModelDelta(kind=E.DELTA_KIND_TEXT, text=piece)))
    os.write(typing, b"n\n")
    assert await answer == "n"
    assert out.getvalue() == f"{QUESTION}\nLet me \n{QUESTION}\ncheck.\n{QUESTION}n\n"


async def test_a_withdrawn_question_leaves_its_line(pipe) -> None:
    reader, typing = pipe
    out = io.StringIO()
    view = LiveView(out, Style())
    answer = asyncio.ensure_future(view.ask(QUESTION, reader))
    await _until_asked(out)
    answer.cancel()  # answered elsewhere
    with pytest.raises(asyncio.CancelledError):
        await answer
    view.line("✓ approved by ann")
    assert out.getvalue() == f"{QUESTION}\n✓ approved by ann\n"
    os.write(typing, b"typed meanwhile\n")  # nothing typed is lost: the next question gets it
    assert await view.ask("you> ", reader) == "typed meanwhile"


async def test_the_end_of_input_answers_none(pipe) -> None:
    reader, typing = pipe
    out = io.StringIO()
    os.write(typing, b"last line without newline")
    os.close(typing)
    view = LiveView(out, Style())
    assert await view.ask("you> ", reader) == "last line without newline"
    assert await view.ask("you> ", reader) is None
    assert out.getvalue() == "you> last line without newline\nyou> \n"


async def test_on_a_terminal_the_question_line_is_erased_and_asked_again() -> None:
    controller, terminal = os.openpty()
    seen = b""
    try:
        with os.fdopen(terminal, "w") as out, os.fdopen(os.dup(terminal)) as keyboard:
            view = LiveView(out, Style())
            reader = LineReader(keyboard)
            answer = asyncio.ensure_future(view.ask(QUESTION, reader))
            while b"[y/N] " not in seen:
                seen += await asyncio.to_thread(os.read, controller, 4096)
            view.show(STATUS)
            while seen.count(b"[y/N] ") < 2:
                seen += await asyncio.to_thread(os.read, controller, 4096)
            os.write(controller, b"y\n")
            assert await answer == "y"
            seen += await asyncio.to_thread(os.read, controller, 4096)
    finally:
        os.close(controller)
    shown = seen.decode()
    assert shown.startswith(f"{QUESTION}\r\x1b[Kstatus → running\r\n{QUESTION}"), shown
    assert shown.endswith("y\r\n")  # the terminal echoes the answer; nothing more is added
