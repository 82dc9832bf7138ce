"""The user messages waiting for a session's model, in the order they came.

Each message carries a future that the loop settles once the message is in the
conversation and the session runs again, so the command that brought it can answer with
the session as it is after it; also once the message is recorded, if the loop stops right
after. A message whose loop stopped before recording it is unsettled: its command says it
was not delivered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class UserMessage:
    text: str
    author: str
    taken: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    def settle(self) -> None:
        """The loop has taken the message in."""
        if not self.taken.done():
            self.taken.set_result(None)


class Inbox:
    """Messages for the model; the loop takes them when the model owes no turn."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[UserMessage] = asyncio.Queue()

    def put(self, text: str, author: str) -> asyncio.Future[None]:
        """Queue a message; the future is done once the loop has taken it in."""
        message = UserMessage(text, author)
        self._queue.put_nowait(message)
        return message.taken

    async def get(
        self, *, idle_seconds: float = 0, on_idle: Callable[[], Awaitable[None]] | None = None
    ) -> UserMessage:
        """The next message. With `idle_seconds` > 0, `on_idle()` runs once when none came
        within that time, and the wait goes on."""
        if idle_seconds > 0 and on_idle is not None:
            message = asyncio.ensure_future(self._queue.get())
            try:
                done, _ = await asyncio.wait({message}, timeout=idle_seconds)
            finally:
                if not message.done():
                    message.cancel()  # a message not taken yet stays in the queue
            if done:
                return message.result()
            await on_idle()
        return await self._queue.get()

    def take_waiting(self) -> list[UserMessage]:
        """Every message already here, without waiting."""
        waiting = []
        while not self._queue.empty():
            waiting.append(self._queue.get_nowait())
        return waiting
