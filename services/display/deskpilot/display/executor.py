"""The display executor: validates an action completely, then performs it on the X display.

Order of work for `act()`:

1. Parse (raw tool call) and validate the action for its version, map every coordinate to
   physical pixels and every key name to keysyms. Any problem is an `InvalidArgument`
   before a single event reaches the display, so nothing is half-executed.
2. Under the display lock (one action at a time), send the input from the single X worker
   thread (the event loop never blocks on X), always releasing whatever this action
   pressed, also when it fails or the client goes away (cancellation).
3. Settle: return as soon as the screen has been still for a short while (see settle.py).
   Drawing reports run from `open()` on, between actions too, so the rows of the last
   settled frame that were drawn since are known (reference.py).
4. Report the pointer position and, when asked, the settled frame, scaled and encoded.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from mss.exception import ScreenShotError
from Xlib.error import ConnectionClosedError as XlibConnectionClosed

from deskpilot.common.errors import FailedPrecondition, InvalidArgument, Unavailable, naming
from deskpilot.common.replay import ReplayCache
from deskpilot.display import actions, keys
from deskpilot.display.accessibility import AccessibilityTree
from deskpilot.display.actions import FieldPath
from deskpilot.display.capture import Frame, ScreenCapture
from deskpilot.display.damage import DamageWatch, open_damage_watch
from deskpilot.display.encode import EncodeOptions, Encoder, resolve_format
from deskpilot.display.memory import IdleTrim
from deskpilot.display.metrics import (
    ACTION_ERRORS,
    ACTION_SECONDS,
    SETTLE_SECONDS,
    SETTLE_TIMEOUTS,
    SETTLES,
)
from deskpilot.display.reference import ScreenReference
from deskpilot.display.scaling import Scaling, scaling_for
from deskpilot.display.settings import DisplaySettings
from deskpilot.display.settle import BusyRegion, SettleTimes, wait_until_still
from deskpilot.display.xconnection import active_window_class, open_display
from deskpilot.display.xinput import (
    BUTTON_LEFT,
    BUTTON_MIDDLE,
    BUTTON_RIGHT,
    SCROLL_BUTTONS,
    TYPE_CHUNK,
    XInput,
)
from deskpilot.v1 import common_pb2, display_pb2

log = logging.getLogger("deskpilot.display")

T = TypeVar("T")

SUPPORTED_VERSIONS = [
    common_pb2.COMPUTER_TOOL_VERSION_20241022,
    common_pb2.COMPUTER_TOOL_VERSION_20250124,
    common_pb2.COMPUTER_TOOL_VERSION_20251124,
    common_pb2.COMPUTER_TOOL_VERSION_TOOLSET_20260801,
]
_CLICKS = {
    "left_click": (BUTTON_LEFT, 1),
    "right_click": (BUTTON_RIGHT, 1),
    "middle_click": (BUTTON_MIDDLE, 1),
    "double_click": (BUTTON_LEFT, 2),
    "triple_click": (BUTTON_LEFT, 3),
}
_SCROLL_NAMES = {v: k for k, v in actions.SCROLL_DIRECTIONS.items()}
_DRAG_STEPS = 8
# Actions whose effect (the echo) an application draws as soon as it reads the input.
_KEYBOARD_ACTIONS = frozenset({"type", "key"})
_MAX_SETTLE_MS = 60_000
# Results kept for repeated idempotency keys, in bytes (most hold a screenshot).
_REPLAY_BYTES = 32 * 1024 * 1024


@dataclass
class Step:
    """A validated action, ready to run: `run()` sends the input and returns the output."""

    run: Callable[[], Awaitable[str]]
    sends_input: bool = True
    keeps_left_button: bool = False
    image: common_pb2.Image | None = field(default=None)


class DisplayExecutor:
    """Performs actions on one X display. `await open()` before use, `await close()` after."""

    def __init__(self, settings: DisplaySettings) -> None:
        self.settings = settings
        self.display_name = settings.display or os.environ.get("DISPLAY", "")
        self.limits = actions.ActionLimits(
            max_text_chars=settings.max_text_chars,
            max_repeat=settings.max_key_repeat,
            max_scroll_amount=settings.max_scroll_amount,
            max_duration_seconds=settings.max_duration_seconds,
        )
        self.encoder = Encoder(
            EncodeOptions(
                png_compress_level=settings.png_compress_level,
                jpeg_quality=settings.jpeg_quality,
                webp_quality=settings.webp_quality,
                scale_workers=settings.scale_threads or len(os.sched_getaffinity(0)),
            )
        )
        self._default_target: tuple[int, int] | None = None
        if settings.scaled_width or settings.scaled_height:
            if not (settings.scaled_width and settings.scaled_height):
                raise ValueError("set both scaled_width and scaled_height, or neither")
            self._default_target = (settings.scaled_width, settings.scaled_height)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="deskpilot-x11")
        self._lock = asyncio.Lock()
        # Shielded first runs: an action whose caller went away is completed, and a repeat
        # of its key gets the result instead of acting again.
        self._replays = ReplayCache(
            display_pb2.ActResponse,
            lambda why: display_pb2.ActResponse(output=why),
            max_results=settings.idempotency_cache_size,
            max_bytes=_REPLAY_BYTES,
        )
        self._busy = BusyRegion()
        # The last settled frame's row checksums (with drawing reports only).
        self._reference = ScreenReference()
        self.idle_trim = IdleTrim()
        self.accessibility = AccessibilityTree()
        self.input: XInput | None = None
        self.capture: ScreenCapture | None = None
        self.damage: DamageWatch | None = None
        self.width = self.height = self.depth = 0

    # --- lifecycle -----------------------------------------------------------------

    async def open(self) -> None:
        if not self.display_name:
            raise ValueError("no X display: set --display or $DISPLAY")
        await self._x(self._open_sync)
        log.info(
            "driving X display %s (%dx%d, capture backend %s)",
            self.display_name, self.width, self.height,
            self.capture.backend if self.capture else "?",
        )  # fmt: skip

    def _open_sync(self) -> None:
        connection = open_display(self.display_name)
        self.input = XInput(connection)
        self.capture = ScreenCapture(self.display_name)
        self.damage = open_damage_watch(self.display_name)
        if self.damage is not None:
            # Reports run from here on, between actions too: bounding-box reports are
            # sent only when the box grows, so they cannot pile up (see damage.py).
            self.damage.start()
            self._reference.replace(self.capture.grab())
        screen = connection.screen()
        self.width, self.height = screen.width_in_pixels, screen.height_in_pixels
        self.depth = screen.root_depth

    async def close(self) -> None:
        await self._replays.cancel_running()
        self.idle_trim.cancel()
        if self.input is not None:
            await self._x(self.input.release_all)
            await self._x(self.input.restore_keymap)
            await self._x(self.input.display.close)
        if self.capture is not None:
            await self._x(self.capture.close)
        if self.damage is not None:
            await self._x(self.damage.close)
        self._pool.shutdown(wait=True)
        self.accessibility.close()
        self.encoder.close()

    async def _x(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking X call on the X worker thread (the only thread that touches X)."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))
        except (XlibConnectionClosed, ScreenShotError) as exc:
            raise Unavailable(f"X display {self.display_name} is not answering: {exc}") from exc

    @property
    def _in(self) -> XInput:
        if self.input is None:
            raise FailedPrecondition("the display executor is not connected to X")
        return self.input

    @property
    def _cap(self) -> ScreenCapture:
        if self.capture is None:
            raise FailedPrecondition("the display executor is not connected to X")
        return self.capture

    # --- RPCs ----------------------------------------------------------------------

    async def info(self, request: display_pb2.GetInfoRequest) -> display_pb2.GetInfoResponse:
        scaling = self.scaling(request.screen_space)
        x, y = await self._x(self._in.pointer)
        return display_pb2.GetInfoResponse(
            display=self.display_name,
            physical_size=common_pb2.Size(width=self.width, height=self.height),
            scaled_size=common_pb2.Size(width=scaling.width, height=scaling.height),
            depth=self.depth,
            supported_versions=SUPPORTED_VERSIONS,
            cursor_position=scaling.to_model(x, y),
        )

    async def screenshot(
        self, request: display_pb2.ScreenshotRequest
    ) -> display_pb2.ScreenshotResponse:
        scaling = self.scaling(request.screen_space)
        fmt, quality = resolve_format(request.options.format, request.options.quality)
        # No display lock: reading the screen does not conflict with an action, and the
        # single X worker thread already serialises the X calls.
        frame = await self._x(self._cap.grab)
        image = await self._x(self.encoder.screenshot, frame, scaling, fmt, quality)
        self.idle_trim.touch()
        return display_pb2.ScreenshotResponse(
            image=image, physical_size=common_pb2.Size(width=self.width, height=self.height)
        )

    async def act(self, request: display_pb2.ActRequest) -> display_pb2.ActResponse:
        started = time.perf_counter()
        name = "unknown"
        try:
            name, action, scaling, fmt, quality, times = self._validate(request)
            at = actions.field_path(request.WhichOneof("request") == "tool_call", name)
            step = self._prepare(name, getattr(action, name), scaling, fmt, quality, at)
            response = await self._replays.run(
                request.idempotency_key,
                request,
                lambda: self._perform_in_turn(name, step, request, scaling, fmt, quality, times),
            )
            if response.replayed:
                return response
        except InvalidArgument:
            ACTION_ERRORS.labels(name, "invalid_argument").inc()
            raise
        self.idle_trim.touch()
        elapsed = time.perf_counter() - started
        response.timing.total_ms = elapsed * 1000
        ACTION_SECONDS.labels(name).observe(elapsed)
        return response

    async def inspect(self, request: display_pb2.InspectRequest) -> display_pb2.InspectResponse:
        started = time.perf_counter()
        if request.HasField("point"):
            with naming("point"):
                x, y = self.scaling(request.screen_space).to_physical(request.point, "point")
        else:
            x, y = await self._x(self._in.pointer)
        ui = await self.describe(x, y)
        return display_pb2.InspectResponse(ui=ui, elapsed_ms=(time.perf_counter() - started) * 1000)

    async def describe(self, x: int, y: int) -> common_pb2.UiContext:
        """The accessibility tree's view of physical pixel (x, y) and of the focus. Its
        own thread: an application slow to answer holds up neither X nor an action."""
        window_class = await self._x(active_window_class, self._in.display)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self.accessibility.pool, self.accessibility.describe, x, y, window_class
        )

    # --- validation ----------------------------------------------------------------

    def scaling(self, space: display_pb2.ScreenSpace | None) -> Scaling:
        return scaling_for(space, self.width, self.height, self._default_target)

    def _validate(
        self, request: display_pb2.ActRequest
    ) -> tuple[str, display_pb2.ComputerAction, Scaling, int, int, SettleTimes]:
        which = request.WhichOneof("request")
        if which is None:
            raise InvalidArgument("ActRequest needs either 'action' or 'tool_call'")
        call = request.tool_call if which == "tool_call" else None
        version = actions.resolve_version(request.version, call)
        action = actions.parse_tool_call(call, version) if call is not None else request.action
        name = actions.validate_action(action, version, self.limits, raw=call is not None)
        with naming("screen_space"):
            scaling = self.scaling(request.screen_space)
        options = request.screenshot_options
        with naming("screenshot_options"):
            fmt, quality = resolve_format(options.format, options.quality)
        return name, action, scaling, fmt, quality, self._settle_times(request.settle, name)

    def _settle_times(self, policy: display_pb2.SettlePolicy, name: str) -> SettleTimes:
        for label, value in (("quiet_ms", policy.quiet_ms), ("max_ms", policy.max_ms)):
            if not 0 <= value <= _MAX_SETTLE_MS:
                raise InvalidArgument(
                    f"settle.{label} must be 0..{_MAX_SETTLE_MS}, got {value}",
                    field=f"settle.{label}",
                )
        s = self.settings
        # Keyboard input is echoed at once, so it needs a shorter quiet period.
        default_quiet = s.settle_typing_quiet_ms if name in _KEYBOARD_ACTIONS else s.settle_quiet_ms
        quiet = (policy.quiet_ms or default_quiet) / 1000
        limit = 0.0 if policy.disabled else (policy.max_ms or s.settle_max_ms) / 1000
        return SettleTimes(
            quiet=quiet,
            first_change=min(s.settle_first_change_ms / 1000, quiet),
            limit=limit,
            poll=s.settle_poll_ms / 1000,
            # A small change needs only the short quiet, unless the request set the quiet.
            small_change_quiet=s.settle_typing_quiet_ms / 1000,
            small_change_px=0 if policy.quiet_ms else s.settle_small_change_px,
        )

    def _prepare(
        self, name: str, body: Any, scaling: Scaling, fmt: int, quality: int, at: FieldPath
    ) -> Step:
        """Check everything that needs the screen or keymap and build the step to run;
        `at` names a bad field where the request has it."""
        if name == "key":
            with naming(at("text")):
                combos = keys.parse_key_sequence(body.text)
            repeat = max(1, body.repeat)

            async def press_keys() -> str:
                for _ in range(repeat):
                    await self._x(lambda: [self._in.tap_combination(c) for c in combos])
                return ""

            return Step(press_keys)
        if name == "hold_key":
            with naming(at("text")):
                combos = keys.parse_key_sequence(body.text)
            held = [keysym for combo in combos for keysym in combo]
            duration = body.duration_seconds

            async def hold() -> str:
                pressed = await self._x(self._in.press_combination, held)
                try:
                    await asyncio.sleep(duration)
                finally:
                    await asyncio.shield(self._x(self._in.release_keys, pressed))
                return ""

            return Step(hold)
        if name == "type":
            text = body.text.replace("\r\n", "\n")
            with naming(at("text")):
                keysyms = [keys.char_keysym(char) for char in text]

            async def type_text() -> str:
                for i in range(0, len(keysyms), TYPE_CHUNK):
                    await self._x(self._in.type_keysyms, keysyms[i : i + TYPE_CHUNK])
                return ""

            return Step(type_text)
        if name in ("cursor_position", "screenshot"):
            return Step(_nothing, sends_input=False)
        if name == "mouse_move":
            with naming(at("coordinate")):
                x, y = scaling.to_physical(body.coordinate)
            return Step(self._in_thread(lambda: self._in.move(x, y)))
        if name == "left_mouse_down":
            return Step(
                self._in_thread(lambda: self._in.press_button(BUTTON_LEFT)),
                keeps_left_button=True,
            )
        if name == "left_mouse_up":
            return Step(self._in_thread(lambda: self._in.release_button(BUTTON_LEFT)))
        if name in _CLICKS:
            button, count = _CLICKS[name]
            point = _optional_point(body, scaling, at)
            with naming(at("modifiers")):
                mods = keys.parse_combination(body.modifiers) if body.modifiers else []
            return Step(self._in_thread(lambda: self._click(point, button, count, mods)))
        if name == "left_click_drag":
            with naming(at("start_coordinate")):
                start = (
                    scaling.to_physical(body.start_coordinate, "start_coordinate")
                    if body.HasField("start_coordinate")
                    else None
                )
            with naming(at("coordinate")):
                end = scaling.to_physical(body.coordinate)
            with naming(at("modifiers")):
                mods = keys.parse_combination(body.modifiers) if body.modifiers else []
            return Step(self._in_thread(lambda: self._drag(start, end, mods)))
        if name == "scroll":
            point = _optional_point(body, scaling, at)
            with naming(at("modifiers")):
                mods = keys.parse_combination(body.modifiers) if body.modifiers else []
            button = SCROLL_BUTTONS[_SCROLL_NAMES[body.direction]]
            amount = body.amount
            return Step(self._in_thread(lambda: self._click(point, button, amount, mods)))
        if name == "wait":
            duration = body.duration_seconds

            async def wait() -> str:
                await asyncio.sleep(duration)
                return ""

            return Step(wait, sends_input=False)
        if name == "zoom":
            with naming(at("region")):
                box = scaling.region_to_physical(body.region)
            step = Step(_nothing, sends_input=False)

            async def zoom() -> str:
                frame = await self._x(self._cap.grab)
                step.image = await self._x(self.encoder.zoom, frame, box, scaling, fmt, quality)
                return ""

            step.run = zoom
            return step
        raise InvalidArgument(f"unknown action {name!r}")

    def _in_thread(self, fn: Callable[[], object]) -> Callable[[], Awaitable[str]]:
        async def run() -> str:
            await self._x(fn)
            return ""

        return run

    # --- input sequences (X worker thread) -----------------------------------------

    def _click(self, at: tuple[int, int] | None, button: int, count: int, mods: list[int]) -> None:
        xi = self._in
        pressed = xi.press_combination(mods) if mods else []
        try:
            if at is not None:
                xi.move(*at)
            xi.click(button, count)
        finally:
            xi.release_keys(pressed)
            xi.sync()

    def _drag(self, start: tuple[int, int] | None, end: tuple[int, int], mods: list[int]) -> None:
        xi = self._in
        pressed = xi.press_combination(mods) if mods else []
        try:
            if start is not None:
                xi.move(*start)
            x0, y0 = start if start is not None else xi.pointer()
            xi.press_button(BUTTON_LEFT)
            xi.sync()
            # Intermediate motion so applications see a drag, not a jump.
            for i in range(1, _DRAG_STEPS + 1):
                xi.move(
                    x0 + (end[0] - x0) * i // _DRAG_STEPS, y0 + (end[1] - y0) * i // _DRAG_STEPS
                )
                xi.sync()
                time.sleep(0.004)
            xi.release_button(BUTTON_LEFT)
        finally:
            xi.release_keys(pressed)
            xi.sync()

    # --- performing ----------------------------------------------------------------

    async def _perform(
        self,
        name: str,
        step: Step,
        request: display_pb2.ActRequest,
        scaling: Scaling,
        fmt: int,
        quality: int,
        times: SettleTimes,
    ) -> display_pb2.ActResponse:
        response = display_pb2.ActResponse(action=name)
        settle = step.sends_input and times.limit > 0
        # What the input changes: with drawing reports, what is drawn from now on (and
        # what was drawn since the last settled frame is out of date in it); without, the
        # difference from a frame captured now.
        damage = self.damage if settle else None
        capture_started = time.perf_counter()
        if damage is not None:
            # Read and recorded in one call on the X thread: a caller going away between
            # the two cannot lose the report.
            await self._x(lambda: self._reference.drawn(damage.drawn()))
            # While background churn is known, what is drawn after the input mixes it with
            # the input's own change in one box: a frame from now tells them apart.
            before = await self._x(self._cap.grab) if self._busy.box is not None else None
        else:
            before = await self._x(self._cap.grab) if settle else None
        response.timing.capture_ms = (time.perf_counter() - capture_started) * 1000
        frame, response.settled = await self._input_and_settle(
            step, response, before, times, damage
        )

        x, y = await self._x(self._in.pointer)
        response.cursor_position.CopyFrom(scaling.to_model(x, y))
        if request.return_ui:
            response.ui.CopyFrom(await self.describe(x, y))
        if name == "cursor_position":
            p = response.cursor_position
            response.output = f"X={p.x},Y={p.y}"

        if step.image is not None:
            response.screenshot.CopyFrom(step.image)
        elif request.return_screenshot or name == "screenshot":
            if frame is None:
                capture_started = time.perf_counter()
                frame = await self._x(self._cap.grab)
                response.timing.capture_ms += (time.perf_counter() - capture_started) * 1000
            encode_started = time.perf_counter()
            image = await self._x(self.encoder.screenshot, frame, scaling, fmt, quality)
            response.screenshot.CopyFrom(image)
            response.timing.encode_ms = (time.perf_counter() - encode_started) * 1000
        return response

    async def _input_and_settle(
        self,
        step: Step,
        response: display_pb2.ActResponse,
        before: Frame | None,
        times: SettleTimes,
        damage: DamageWatch | None,
    ) -> tuple[Frame | None, bool]:
        """Send the input, then wait for the screen to settle if `times` says so; returns
        the settled frame (None when not settling) and whether it settled."""
        held_before = self._in.held[1]
        started = time.perf_counter()
        try:
            response.output = await step.run()
        finally:
            keep = tuple(held_before) + ((BUTTON_LEFT,) if step.keeps_left_button else ())
            # Shielded: the release must happen even when the client has gone away.
            await asyncio.shield(self._x(self._in.release_all, keep_buttons=keep))
        response.timing.input_ms = (time.perf_counter() - started) * 1000
        if not (step.sends_input and times.limit > 0):
            return None, True
        try:
            result = await wait_until_still(
                lambda: self._x(self._cap.grab),
                before,
                times,
                self._busy,
                drawn=(lambda: self._x(damage.drawn)) if damage is not None else None,
                reference=self._reference if damage is not None else None,
            )
            if damage is not None:
                await self._x(self._reference.replace, result.frame)
        except BaseException:
            # Drawing reports were read and not recorded: the reference is out of date.
            self._reference.forget()
            raise
        response.timing.settle_ms = result.seconds * 1000
        SETTLE_SECONDS.observe(result.seconds)
        SETTLES.labels(result.ended_by).inc()
        log.debug(
            "settled (%s) after %.1f ms; changed %s", result.ended_by, result.seconds * 1000,
            result.change,
        )  # fmt: skip
        if not result.settled:
            SETTLE_TIMEOUTS.inc()
        return result.frame, result.settled

    async def _perform_in_turn(
        self,
        name: str,
        step: Step,
        request: display_pb2.ActRequest,
        scaling: Scaling,
        fmt: int,
        quality: int,
        times: SettleTimes,
    ) -> display_pb2.ActResponse:
        """`_perform` under the display lock: one action at a time."""
        async with self._lock:
            return await self._perform(name, step, request, scaling, fmt, quality, times)


async def _nothing() -> str:
    return ""


def _optional_point(body: Any, scaling: Scaling, at: FieldPath) -> tuple[int, int] | None:
    """The physical pixel of the action's `coordinate`, None when it has none."""
    if not body.HasField("coordinate"):
        return None
    with naming(at("coordinate")):
        return scaling.to_physical(body.coordinate)
