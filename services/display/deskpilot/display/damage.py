"""What was drawn on the screen, from the X DAMAGE extension.

Settling needs to know whether the screen changed. Capturing and comparing a whole frame
costs ~2.5 ms (1280x800) and a core; asking the X server whether anything was drawn costs
one round trip (~0.1 ms). The settle loop captures only after something was drawn.

Drawing is reported as a bounding box (DamageReportBoundingBox): the server keeps the
region drawn since we last emptied it and sends an event only when its bounding box grows.
Raw rectangles (one event per drawing operation) flood: a terminal printing at full speed
makes more of them than python-xlib can parse, so reading never caught up and the X worker
thread, and every request behind it, hung. Here the events per read are bounded by how
often a box can grow (a few per poll in practice, and capped: past `_MAX_EVENTS_PER_READ`
the whole screen counts as drawn and frames are compared), whatever the drawing rate.

The region must be emptied (DamageSubtract) for later drawing to be reported again, and
drawing inside an already reported box sends nothing. So `drawn()` reads, empties the
region, makes a round trip (the subtract is done before the caller captures on its own
connection, so everything drawn until then is in that frame) and reads again: drawing that
landed after the subtract made the region non-empty again, and its box is reported again
on the next call even without a new event, because drawing inside it would send none.
Repaints of identical pixels are reported too; the settle loop compares frames to tell.

Not thread-safe: used from the executor's single X worker thread.
"""

from __future__ import annotations

import logging

from Xlib.error import XError
from Xlib.ext import damage

from deskpilot.display.boxes import Box, union_box
from deskpilot.display.xconnection import open_display

log = logging.getLogger("deskpilot.display.damage")

# Events taken in one read at most (parsing one costs python-xlib ~10 us). Bounding-box
# reports come a few per poll; more means something floods the connection (every keymap
# change while typing is a MappingNotify too), and then the whole screen counts as drawn:
# frames are compared instead.
_MAX_EVENTS_PER_READ = 1024


class DamageWatch:
    """Reports the bounding box of what was drawn on the whole screen, between `start()`
    and `stop()`. The executor keeps it running between actions, so the next action knows
    what was drawn since the last settled frame: unread, reports cannot pile up, because
    one is sent only when the box of the drawing since the last read grows (a few over
    seconds of two terminals printing at full speed; tested)."""

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
        geometry = self._root.get_geometry()
        self._screen: Box = (0, 0, geometry.width, geometry.height)
        self._damage: int | None = None
        # Bounding box of the server's region as last reported (None: the region is empty).
        self._pending: Box | None = None

    def start(self) -> None:
        """Report what is drawn from now on."""
        self.stop()
        self._damage = self._root.damage_create(damage.DamageReportBoundingBox)
        # The creation reports the whole screen; drawing so far is not the action's.
        self._display.sync()
        self._take_events()
        self._pending = self._empty_region()

    def drawn(self) -> Box | None:
        """Bounding box (x0, y0, x1, y1) of the drawing since `start()` or the previous
        call; None when nothing was drawn. After a box, a capture shows all of it."""
        if self._damage is None:
            raise RuntimeError("DamageWatch.drawn() before start()")
        self._display.sync()  # a round trip: all drawing done so far is now reported
        box = _union(self._pending, self._take_events())
        if box is None:
            return None  # the region is empty, so any later drawing sends an event
        self._pending = self._empty_region()
        return _union(box, self._pending)

    def stop(self) -> None:
        """Stop reporting (and drop what is queued)."""
        if self._damage is not None:
            self._display.damage_destroy(self._damage)
            self._damage = None
            self._pending = None
            self._display.sync()
            self._take_events()

    def close(self) -> None:
        self._display.close()

    def _empty_region(self) -> Box | None:
        """Empty the server's region; return what was drawn between that and the round
        trip after it (the region is not empty then, see the module doc)."""
        assert self._damage is not None
        self._display.damage_subtract(self._damage)
        self._display.sync()
        return self._take_events()

    def _take_events(self) -> Box | None:
        """The union of the drawing reports received so far, read without asking the
        server again (the caller's round trip brought them); a bounded amount of work."""
        box: Box | None = None
        queued = self._display.pending_events()
        for _ in range(min(queued, _MAX_EVENTS_PER_READ)):
            event = self._display.next_event()
            if event.type & 0x7F != self._notify_code:
                continue  # e.g. MappingNotify, which every client receives
            area = event.area
            box = union_box(box, (area.x, area.y, area.x + area.width, area.y + area.height))
        if queued > _MAX_EVENTS_PER_READ:
            log.debug("%d drawing reports in one read: counting the whole screen", queued)
            return self._screen
        return box


def _union(a: Box | None, b: Box | None) -> Box | None:
    return a if b is None else union_box(a, b)


class DamageUnavailable(RuntimeError):
    """The X server cannot report drawing; the executor compares captured frames."""


def open_damage_watch(display_name: str) -> DamageWatch | None:
    """A watch on `display_name`, or None (logged) when its server lacks DAMAGE."""
    try:
        return DamageWatch(display_name)
    except (DamageUnavailable, XError) as exc:
        log.info("no drawing reports from X (%s); settling compares captured frames", exc)
        return None
