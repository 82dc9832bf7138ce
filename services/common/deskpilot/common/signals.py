"""Running until SIGTERM or SIGINT, the same way in every service and tool."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Iterable

log = logging.getLogger("deskpilot.signals")

STOP_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGTERM, signal.SIGINT)


def on_stop_signals(
    callback: Callable[[signal.Signals], None], signals: Iterable[signal.Signals] = STOP_SIGNALS
) -> None:
    """Call `callback(signal)` on the running loop whenever one of `signals` arrives."""
    loop = asyncio.get_running_loop()

    def received(sig: signal.Signals) -> None:
        log.info("received %s", sig.name)
        callback(sig)

    for sig in signals:
        loop.add_signal_handler(sig, received, sig)


def stop_event(signals: Iterable[signal.Signals] = STOP_SIGNALS) -> asyncio.Event:
    """An event set by the first of `signals`: `await stop_event().wait()` runs until then."""
    stopped = asyncio.Event()
    on_stop_signals(lambda _sig: stopped.set(), signals)
    return stopped
