"""What was drawn on the screen, from the X DAMAGE extension.

Settling needs to know whether the screen changed. Capturing and comparing a whole frame
costs ~2.5 ms (1280x800) and a core; asking the X server whether anything was drawn costs
one round trip (~0.1 ms). The settle loop captures only after something was drawn.

Drawing is reported as raw rectangles, one event per drawing operation, rather than once
when the damage region becomes non-empty: with the latter, drawing that lands between
reading the events and re-arming would go unreported. A round trip before reading makes
every drawing the server performed until then visible. Drawing that repaints identical
pixels is reported too; the settle loop compares frames to tell.

Not thread-safe: used from the executor's single X worker thread.
"""

from __future__ import annotations

import logging

from Xlib.error import XError
from Xlib.ext import damage

from deskpilot.display.settle import Box, union_box
from deskpilot.display.xconnection import open_display

log = logging.getLogger("deskpilot.display.damage")

# Past this many reports since the last subtract, the server's accumulated region is
# emptied (raw reports do not depend on it; it only costs the server memory and time).
_SUBTRACT_EVERY = 256


class DamageWatch:
    """Reports the bounding box of what was drawn on the whole screen, between `start()`
    and `stop()` (one action's settling). Outside that, nothing is reported: a screen that
    keeps changing between actions would otherwise queue reports without end."""

    def __init__(self, display_name: str) -> None:
        self._display = open_display(display_name)
        try:
            if not self._display.has_extension(damage.extname):
                raise DamageUnavailable(f"X display {display_name} has no DAMAGE extension")
            self._display.damage_query_version()  # required before any other DAMAGE request
            # python-xlib registers a per-connection copy of the event class, so events are
            # recognised by their code, not by isinstance.
            first_event = self._display.query_extension(damage.extname).first_event
            self._notify_code = first_event + damage.DamageNotifyCode
        except (XError, DamageUnavailable):
            self._display.close()
            raise
        self._root = self._display.screen().root
        self._damage: int | None = None
        self._reports = 0

    def start(self) -> None:
        """Report what is drawn from now on."""
        self.stop()
        self._damage = self._root.damage_create(damage.DamageReportRawRectangles)
        self._reports = 0
        self._read()  # the creation reports the whole screen once; drawing so far is old

    def drawn(self) -> Box | None:
        """Bounding box (x0, y0, x1, y1) of the drawing since `start()` or the previous
        call; None when nothing was drawn."""
        if self._damage is None:
            raise RuntimeError("DamageWatch.drawn() before start()")
        box = self._read()
        if self._reports >= _SUBTRACT_EVERY:
            self._display.damage_subtract(self._damage)
            self._display.flush()
            self._reports = 0
        return box

    def stop(self) -> None:
        """Stop reporting (and drop what is queued)."""
        if self._damage is not None:
            self._display.damage_destroy(self._damage)
            self._damage = None
            self._read()

    def close(self) -> None:
        self._display.close()

    def _read(self) -> Box | None:
        self._display.sync()  # a round trip: all drawing done so far is now reported
        box: Box | None = None
        while self._display.pending_events():
            event = self._display.next_event()
            if event.type & 0x7F != self._notify_code:
                continue  # e.g. MappingNotify, which every client receives
            area = event.area
            box = union_box(box, (area.x, area.y, area.x + area.width, area.y + area.height))
            self._reports += 1
        return box


class DamageUnavailable(RuntimeError):
    """The X server cannot report drawing; the executor compares captured frames."""


def open_damage_watch(display_name: str) -> DamageWatch | None:
    """A watch on `display_name`, or None (logged) when its server lacks DAMAGE."""
    try:
        return DamageWatch(display_name)
    except (DamageUnavailable, XError) as exc:
        log.info("no drawing reports from X (%s); settling compares captured frames", exc)
        return None
