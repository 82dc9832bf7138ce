"""A token bucket over a viewer's client messages: a flood closes that viewer (1008)
instead of costing the proxy and the desktop unbounded work."""

from __future__ import annotations

import time

from deskpilot.gateway.desktop.close_codes import CloseCode, ViewerClosed


class MessageRate:
    def __init__(self, per_second: float, burst: float | None = None) -> None:
        self._rate = per_second
        self._burst = burst if burst is not None else per_second
        self._tokens = self._burst
        self._last = time.monotonic()

    def take(self) -> None:
        """Count one message; raise ViewerClosed once the bucket is empty."""
        now = time.monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
        self._last = now
        if self._tokens < 1:
            raise ViewerClosed(
                CloseCode.INPUT_FLOOD,
                f"more than {self._rate:g} RFB messages per second",
            )
        self._tokens -= 1
