"""Settle, don't sleep: wait until the screen stops changing instead of a fixed delay.

After the input is sent, frames are captured every `poll` and compared with the previous
one (the first with the frame taken just before the input). The screen is settled when it
has been unchanged for `quiet` since the last change, or, if nothing changed at all, once
`first_change` has passed. `limit` bounds the wait. (So a change is only ever seen within
`first_change`: the executor picks a shorter `quiet` for keyboard actions, whose echo an
application draws at once.)

When the X server reports drawing (DAMAGE, see damage.py), no frame is taken before the
input: a poll captures only if something was drawn since the last one, so a click that
changes nothing costs one capture instead of one per poll plus one before, and the wait
ends right at `first_change` with a frame captured at its start.

Background churn (a terminal that keeps scrolling, a video) would make every action wait
for `limit`. So the executor remembers the region that was still changing when a wait hit
its bound (`BusyRegion`); later waits ignore changes inside it (pixels outside it are
compared as usual), and forget it as soon as it is seen still. The first action after
churn starts pays the bound once (again if the churn spreads). The price: an action's own
change inside the busy region is not waited for.

A small change (at most `small_change_px` on both sides: a terminal redrawing its cursor, a
ticked box) needs only `small_change_quiet`, not the whole `quiet`: it is usually the whole
answer to the input, and an application that goes on from it draws more at once, as with
typing echo. A larger one (a window opening) waits the whole `quiet`. So while the change
so far is small, each change is measured exactly (its bounding box, ~1 ms for a whole
1920x1080 frame, less within the reported drawing). The first frame after the input has
no frame before it to be compared with; with a `ScreenReference` (the last settled
frame's row checksums, see reference.py) it is measured against that, so a repaint of the
same pixels is no change at all.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from PIL import Image, ImageChops

from deskpilot.display.boxes import Box, fits, inside, union_box
from deskpilot.display.capture import Frame
from deskpilot.display.reference import ScreenReference

# What ended a wait: nothing changed within `first_change`; the screen stayed still for
# `small_change_quiet` after a small change, or for `quiet`; or the bound was hit.
SettleEnd = Literal["no_change", "small_change", "quiet", "limit"]


@dataclass(frozen=True)
class SettleTimes:
    """Durations in seconds; `small_change_px` 0 makes every change wait `quiet`."""

    quiet: float
    first_change: float
    limit: float
    poll: float
    small_change_quiet: float = 0.0
    small_change_px: int = 0

    def measures(self, change: Box | None) -> bool:
        """Whether a change seen so far of `change` could still settle on the short quiet,
        so that further changes must be measured."""
        return self.small_change_px > 0 and fits(change, self.small_change_px)

    def quiet_after(self, change: Box | None) -> float:
        """The quiet period once the input has changed `change` (its bounding box)."""
        if self.measures(change):
            return min(self.small_change_quiet, self.quiet)
        return self.quiet


@dataclass(frozen=True)
class Settled:
    """The last frame captured, whether the screen was still, how long it took, what
    ended the wait and the bounding box of what the input changed (outside churn; larger
    than the change where measuring it exactly could not matter)."""

    frame: Frame
    settled: bool
    seconds: float
    ended_by: SettleEnd
    change: Box | None


@dataclass
class BusyRegion:
    """Where the screen keeps changing regardless of input (learned across actions)."""

    box: Box | None = None


def changed_boxes(
    a: Frame, b: Frame, busy: Box | None, within: Box | None = None
) -> tuple[Box | None, Box | None]:
    """(all changes, changes outside `busy`) as bounding boxes; None where nothing changed.
    With `within`, only pixels inside it are compared (nothing else may differ)."""
    if a.raw == b.raw:
        return None, None
    size = (a.width, a.height)
    # Zero-copy views; the channel order does not matter for a difference.
    image_a = Image.frombuffer("RGBA", size, a.raw, "raw", "RGBA", 0, 1)
    image_b = Image.frombuffer("RGBA", size, b.raw, "raw", "RGBA", 0, 1)
    left = top = 0
    if within is not None and within != (0, 0, a.width, a.height):
        left, top = within[0], within[1]
        image_a, image_b = image_a.crop(within), image_b.crop(within)
    difference = ImageChops.difference(image_a, image_b)
    everywhere = _shifted(difference.getbbox(alpha_only=False), left, top)
    if busy is None or everywhere is None:
        return everywhere, everywhere
    mask = (busy[0] - left, busy[1] - top, busy[2] - left, busy[3] - top)
    clipped = (max(0, mask[0]), max(0, mask[1]),
               min(difference.width, mask[2]), min(difference.height, mask[3]))  # fmt: skip
    if clipped[0] < clipped[2] and clipped[1] < clipped[3]:
        difference.paste((0, 0, 0, 0), clipped)
    return everywhere, _shifted(difference.getbbox(alpha_only=False), left, top)


def _shifted(box: Box | None, left: int, top: int) -> Box | None:
    return None if box is None else (box[0] + left, box[1] + top, box[2] + left, box[3] + top)


def changed_outside(a: Frame, b: Frame, busy: Box) -> bool:
    """Whether any pixel outside `busy` differs; row-slice compares (memcmp), no image
    arithmetic, so a frame is checked in about a millisecond."""
    stride = a.width * 4
    x0, y0, x1, y1 = busy
    top, bottom = y0 * stride, y1 * stride
    if a.raw[:top] != b.raw[:top] or a.raw[bottom:] != b.raw[bottom:]:
        return True
    left, right = x0 * 4, x1 * 4
    for row in range(top, bottom, stride):
        if left and a.raw[row : row + left] != b.raw[row : row + left]:
            return True
        if (
            right < stride
            and a.raw[row + right : row + stride] != b.raw[row + right : row + stride]
        ):
            return True
    return False


def changed_box(a: Frame, b: Frame) -> Box | None:
    """Bounding box of the pixels that differ between two frames (None: identical)."""
    return changed_boxes(a, b, None)[0]


async def wait_until_still(
    grab: Callable[[], Awaitable[Frame]],
    before: Frame | None,
    times: SettleTimes,
    busy: BusyRegion | None = None,
    drawn: Callable[[], Awaitable[Box | None]] | None = None,
    reference: ScreenReference | None = None,
) -> Settled:
    """Capture until the screen has been still long enough (see the module doc).

    With `drawn` (what was drawn since it was last called, see damage.py; called once just
    before the input, and `before`, if any, captured after that), a poll captures only
    after something was drawn, and drawing with no frame to compare against counts as a
    change, unless `reference` (the screen before the input, as far as it is known) tells
    otherwise.
    """
    busy = busy or BusyRegion()
    started = time.monotonic()
    previous = before
    changed_at: float | None = None
    change: Box | None = None  # what the input changed so far, outside the churn
    busy_seen = False
    # Changes seen in the last `quiet` seconds: what is still moving when the bound hits.
    recent: list[tuple[float, Box]] = []
    while True:
        painted = await drawn() if drawn is not None else None
        if drawn is not None and painted is None and previous is not None:
            frame = previous  # nothing drawn since it was captured: still the screen
        else:
            frame = await grab()
        now = time.monotonic()
        elapsed = now - started
        whole: Box = (0, 0, frame.width, frame.height)
        box: Box | None
        outside: Box | None
        if frame is previous:
            box = outside = None
        elif previous is None and drawn is not None:
            # The first frame after the input: whatever was drawn since just before it
            # is the change (only the churn, if it all fell inside the busy region),
            # as far as the reference shows it differs.
            box = painted
            if box is not None and reference is not None and not inside(box, busy.box):
                box = reference.changed(frame, box)
            outside = None if box is not None and inside(box, busy.box) else box
        elif previous is None:
            box = outside = whole
        elif frame.raw == previous.raw:
            box = outside = None
        elif (
            busy.box is not None
            and elapsed < times.limit - times.quiet
            and not changed_outside(previous, frame, busy.box)
        ):
            # Only the known churn moved (the common case while a terminal scrolls): its
            # exact box cannot grow the busy region, so it is not computed.
            box, outside = busy.box, None
        elif busy.box is not None or elapsed >= times.limit - times.quiet or times.measures(change):
            # Where it changed matters against a known busy region, to learn one near the
            # bound, or while the change may still be small; otherwise the (costlier)
            # bounding boxes are skipped. Between two frames of this wait, only what was
            # reported drawn can differ.
            within = painted if drawn is not None and previous is not before else None
            box, outside = changed_boxes(previous, frame, busy.box, within)
        else:
            box = outside = whole
        previous = frame
        if box is not None:
            recent = [(t, b) for t, b in recent if now - t <= times.quiet] + [(now, box)]
            if outside is None:
                busy_seen = True
            else:
                changed_at = now
                change = union_box(change, outside)
        quiet = times.quiet_after(change)
        if changed_at is None:
            if elapsed >= min(times.first_change, times.quiet):
                return _finish(frame, "no_change", elapsed, busy, busy_seen, recent, change)
        elif now - changed_at >= quiet:
            ended_by: SettleEnd = "small_change" if quiet < times.quiet else "quiet"
            return _finish(frame, ended_by, elapsed, busy, busy_seen, recent, change)
        if elapsed >= times.limit:
            # Only the last quiet period counts, and only its boxes are exact (earlier
            # ones may stand for the whole screen, see above).
            still_moving = [(t, b) for t, b in recent if now - t <= times.quiet]
            return _finish(frame, "limit", elapsed, busy, busy_seen, still_moving, change)
        # Poll, but capture right at the next deadline rather than up to a poll late.
        if changed_at is None:
            deadline = started + min(times.first_change, times.quiet)
        else:
            deadline = changed_at + quiet
        wake = min(now + times.poll, deadline, started + times.limit)
        await asyncio.sleep(max(0.0, wake - time.monotonic()))


def _finish(
    frame: Frame,
    ended_by: SettleEnd,
    elapsed: float,
    busy: BusyRegion,
    busy_seen: bool,
    recent: list[tuple[float, Box]],
    change: Box | None,
) -> Settled:
    settled = ended_by != "limit"
    if not settled:
        # Whatever moved during the last quiet period is background churn from now on.
        for _, box in recent:
            busy.box = union_box(busy.box, box)
    elif busy.box is not None and not busy_seen:
        busy.box = None  # the churn has stopped
    return Settled(frame, settled, elapsed, ended_by, change)
