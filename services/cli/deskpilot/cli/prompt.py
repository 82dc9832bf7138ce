"""Asks a yes/no question on the terminal without blocking the event loop."""

from __future__ import annotations

import asyncio
from typing import TextIO


async def ask_yes_no(question: str, stdin: TextIO, out: TextIO) -> bool:
    """Print `question`, wait for a line on `stdin`; only y/yes means yes.

    The line is read when the terminal has one (loop.add_reader), so events keep flowing
    while the person thinks; cancelling the task withdraws the question.
    """
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[str] = loop.create_future()
    fd = stdin.fileno()

    def readable() -> None:
        if not answer.done():
            answer.set_result(stdin.readline())

    out.write(question)
    out.flush()
    loop.add_reader(fd, readable)
    try:
        line = await answer
    finally:
        loop.remove_reader(fd)
    return line.strip().lower() in ("y", "yes")
