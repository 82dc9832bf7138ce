"""Screenshots a session's tool calls returned, kept in the object store for replay and
referenced from its events. A screen that did not change is not stored again."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from deskpilot.bus import SCREENSHOTS_BUCKET, Bus
from deskpilot.orchestrator import results
from deskpilot.v1 import common_pb2

T = TypeVar("T")
Write = Callable[[Callable[[], Awaitable[T]]], Awaitable[T]]


class SessionScreenshots:
    """The stored screenshots of one session."""

    def __init__(self, bus: Bus, session_id: str, write: Write) -> None:
        """`write`: how the session writes (waiting for space in a full store)."""
        self.bus = bus
        self.session_id = session_id
        self._write = write
        self._last: common_pb2.ObjectRef | None = None

    async def store(
        self, tool_use_id: str, image: common_pb2.Image | None, digest: str
    ) -> common_pb2.ObjectRef | None:
        """The reference of `image` (`digest`: its SHA-256), stored unless it is the last
        one stored; None when there is no image."""
        if image is None:
            return None
        last = self._last
        if last is not None and last.sha256 == digest:
            return last  # the screen did not change: the stored picture is the same
        media = results.image_block(image)["source"]["media_type"]  # type: ignore[index]
        name = f"{self.session_id}/{tool_use_id}.{media.split('/')[1]}"
        ref = await self._write(
            lambda: self.bus.put_object(SCREENSHOTS_BUCKET, name, image.data, media, sha256=digest)
        )
        self._last = ref
        return ref
