"""What the screen showed before an action's input, known without a capture before it.

Settling on drawing reports (damage.py) captures nothing before the input, so the first
drawing after it had nothing to be compared with: a terminal redrawing its cursor (a few
pixels, or the same pixels again) counted as a change of unknown size, and a click into it
waited the whole quiet period. The executor keeps the row checksums of the last settled
frame here (~10 KB; the frame itself is 8 MB at 1920x1080, and RSS at rest matters) and
keeps drawing reports running between actions, so it knows which rows were drawn since:
every other row is still that frame's. The first frame after the input is measured
against it, exactly in rows and within the reported drawing's columns.

Not thread-safe: used from the executor's single X worker thread.
"""

from __future__ import annotations

from deskpilot.display.boxes import Box
from deskpilot.display.capture import Frame


class ScreenReference:
    """Row checksums of the last frame known to show the screen, and the rows drawn since."""

    def __init__(self) -> None:
        self._rows: list[int] | None = None
        self._width = 0
        self._stale: tuple[int, int] | None = None  # rows [top, bottom) drawn since

    def replace(self, frame: Frame) -> None:
        """`frame` shows the screen as of the last drawing report read."""
        self._rows, self._width, self._stale = frame.row_checksums, frame.width, None

    def forget(self) -> None:
        """Drawing may have been read without being recorded here: nothing is known."""
        self._rows, self._stale = None, None

    def drawn(self, box: Box | None) -> None:
        """Record drawing reported since the reference frame; its rows are out of date."""
        if box is None:
            return
        top, bottom = box[1], box[3]
        if self._stale is not None:
            top, bottom = min(top, self._stale[0]), max(bottom, self._stale[1])
        self._stale = (top, bottom)

    def changed(self, frame: Frame, drawn: Box) -> Box | None:
        """What differs between `frame` and the reference, given that nothing was drawn
        outside `drawn` since the reference's drawing was recorded: `drawn`'s columns, the
        rows whose checksums differ (or that are out of date); None when no row does."""
        if self._rows is None or (self._width, len(self._rows)) != (frame.width, frame.height):
            return drawn
        x0, y0, x1, y1 = drawn
        y0, y1 = max(0, y0), min(frame.height, y1)
        rows = frame.row_checksums_between(y0, y1)
        stale_top, stale_bottom = self._stale or (0, 0)
        changed = [
            y
            for y, checksum in zip(range(y0, y1), rows, strict=True)
            if checksum != self._rows[y] or stale_top <= y < stale_bottom
        ]
        return (x0, changed[0], x1, changed[-1] + 1) if changed else None
