"""Input sent to one VNC connection, and what is still held down from it, so a lease
change can let go of everything (KeyEvent up for each held key, PointerEvent mask 0)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from deskpilot.gateway.desktop import client_messages as msg


class HeldInput:
    def __init__(self, send: Callable[[bytes], Awaitable[None]]) -> None:
        self._send = send
        self._keys: set[int] = set()
        self._buttons = 0
        self._position: tuple[int, int] | None = None

    async def key(self, down: bool, key: int, raw: bytes) -> None:
        if down:
            self._keys.add(key)
        else:
            self._keys.discard(key)
        await self._send(raw)

    async def pointer(self, mask: int, x: int, y: int, raw: bytes) -> None:
        self._buttons, self._position = mask, (x, y)
        await self._send(raw)

    async def release_all(self) -> None:
        """Release every key and button sent through here (the pointer stays put)."""
        keys, self._keys = sorted(self._keys), set()
        for key in keys:
            await self._send(msg.key_event(False, key))
        if self._position is not None:
            self._buttons = 0
            await self._send(msg.pointer_event(0, *self._position))
