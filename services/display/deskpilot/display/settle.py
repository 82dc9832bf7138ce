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
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from PIL import Image, ImageChops

from deskpilot.display.capture import Frame

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class SettleTimes:
    """Durations in seconds."""

    quiet: float
    first_change: float
    limit: float
    poll: float


@dataclass(frozen=True)
class Settled:
    """The last frame captured, whether the screen was still, and how long it took."""

    frame: Frame
    settled: bool
    seconds: float


@dataclass
class BusyRegion:
    """Where the screen keeps changing regardless of input (learned across actions)."""

    box: Box | None = None


def changed_boxes(a: Frame, b: Frame, busy: Box | None) -> tuple[Box | None, Box | None]:
    """(all changes, changes outside `busy`) as bounding boxes; None where nothing changed."""
    if a.raw == b.raw:
        return None, None
    size = (a.width, a.height)
    # Zero-copy views; the channel order does not matter for a difference.
    image_a = Image.frombuffer("RGBA", size, a.raw, "raw", "RGBA", 0, 1)
    image_b = Image.frombuffer("RGBA", size, b.raw, "raw", "RGBA", 0, 1)
    difference = ImageChops.difference(image_a, image_b)
    everywhere = difference.getbbox(alpha_only=False)
    if busy is None or everywhere is None:
        return everywhere, everywhere
    difference.paste((0, 0, 0, 0), busy)
    return everywhere, difference.getbbox(alpha_only=False)


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


def _inside(box: Box, region: Box | None) -> bool:
    return region is not None and (
        region[0] <= box[0] and region[1] <= box[1] and box[2] <= region[2] and box[3] <= region[3]
    )


def changed_box(a: Frame, b: Frame) -> Box | None:
    """Bounding box of the pixels that differ between two frames (None: identical)."""
    return changed_boxes(a, b, None)[0]


def union_box(a: Box | None, b: Box) -> Box:
    """The smallest box holding `a` (if any) and `b`."""
    if a is None:
        return b
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


async def wait_until_still(
    grab: Callable[[], Awaitable[Frame]],
    before: Frame | None,
    times: SettleTimes,
    busy: BusyRegion | None = None,
    drawn: Callable[[], Awaitable[Box | None]] | None = None,
) -> Settled:
    """Capture until the screen has been still long enough (see the module doc).

    With `drawn` (what was drawn since it was last called, see damage.py; called once just
    before the input, with `before` None), a poll captures only after something was
    drawn, and drawing with no frame to compare against counts as a change.
    """
    busy = busy or BusyRegion()
    started = time.monotonic()
    previous = before
    changed_at: float | None = None
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
            # is the change (only the churn, if it all fell inside the busy region).
            box = painted
            outside = None if box is not None and _inside(box, busy.box) else box
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
        elif busy.box is not None or elapsed >= times.limit - times.quiet:
            # Where it changed matters only against a known busy region, or to learn one
            # near the bound; otherwise the (costlier) bounding boxes are skipped.
            box, outside = changed_boxes(previous, frame, busy.box)
        else:
            box = outside = whole
        previous = frame
        if box is not None:
            recent = [(t, b) for t, b in recent if now - t <= times.quiet] + [(now, box)]
            if outside is None:
                busy_seen = True
            else:
                changed_at = now
        if changed_at is None:
            if elapsed >= min(times.first_change, times.quiet):
                return _finish(frame, True, elapsed, busy, busy_seen, recent)
        elif now - changed_at >= times.quiet:
            return _finish(frame, True, elapsed, busy, busy_seen, recent)
        if elapsed >= times.limit:
            # Only the last quiet period counts, and only its boxes are exact (earlier
            # ones may stand for the whole screen, see above).
            still_moving = [(t, b) for t, b in recent if now - t <= times.quiet]
            return _finish(frame, False, elapsed, busy, busy_seen, still_moving)
        # Poll, but capture right at the next deadline rather than up to a poll late.
        if changed_at is None:
            deadline = started + min(times.first_change, times.quiet)
        else:
            deadline = changed_at + times.quiet
        wake = min(now + times.poll, deadline, started + times.limit)
        await asyncio.sleep(max(0.0, wake - time.monotonic()))


def _finish(
    frame: Frame,
    settled: bool,
    elapsed: float,
    busy: BusyRegion,
    busy_seen: bool,
    recent: list[tuple[float, Box]],
) -> Settled:
    if not settled:
        # Whatever moved during the last quiet period is background churn from now on.
        for _, box in recent:
            busy.box = union_box(busy.box, box)
    elif busy.box is not None and not busy_seen:
        busy.box = None  # the churn has stopped
    return Settled(frame, settled, elapsed)
