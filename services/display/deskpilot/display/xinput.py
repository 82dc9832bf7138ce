"""Keyboard and pointer input through XTEST, in process (no subprocess per action).

Not thread-safe: the executor calls it from its single X worker thread. Every key and
button pressed through `press_*` is remembered until released, so `release_all()` can
always undo a half-done action (error, cancellation, client gone).

Characters the keyboard map cannot produce (é on a US map, ✓, 日本語) are typed by binding
their keysym to a spare keycode, the way xdotool does. Spare keycodes are the ones without
symbols plus those bound only to XF86 media/launcher keysyms (a typical map has ~20 empty
ones, too few for mixed text); `restore_keymap()` puts the original bindings back.
Bindings are kept and reused (least recently used first), and a keycode is rebound only
after its last use is old enough for clients to have read it with the previous mapping,
so every character arrives as itself.
"""

from __future__ import annotations

import time
from collections import OrderedDict

from Xlib import XK, X
from Xlib.display import Display
from Xlib.ext import xtest

BUTTON_LEFT, BUTTON_MIDDLE, BUTTON_RIGHT = 1, 2, 3
SCROLL_BUTTONS = {"up": 4, "down": 5, "left": 6, "right": 7}
# A rebound keycode may still be in flight to a client; wait this long before reusing it.
_REBIND_SAFE_SECONDS = 0.25
# Flush input and wait for the server every this many characters so a long text cannot
# pile up in buffers; also the granularity at which typing can be cancelled.
TYPE_CHUNK = 64

_SHIFT = XK.string_to_keysym("Shift_L")
_XF86_KEYSYMS = range(0x1008FF00, 0x10090000)


def _is_spare(syms: list[int]) -> bool:
    return all(sym == 0 or sym in _XF86_KEYSYMS for sym in syms)


class XInput:
    """XTEST input on one X connection."""

    def __init__(self, display: Display) -> None:
        self.display = display
        self.root = display.screen().root
        self._pressed_keys: list[int] = []
        self._pressed_buttons: list[int] = []
        self._keymap: dict[int, tuple[int, bool]] = {}  # keysym -> (keycode, needs shift)
        self._spare: list[int] = []
        self._bound: OrderedDict[int, int] = OrderedDict()  # keysym -> spare keycode, LRU
        self._last_used: dict[int, float] = {}
        self._original: dict[int, list[int]] = {}  # keycode -> keysyms before we rebound it
        self.reload_keymap()

    # --- keyboard map --------------------------------------------------------------

    def reload_keymap(self) -> None:
        """Read the keyboard map: which keycode (and shift level) produces each keysym."""
        info = self.display.display.info
        first, last = info.min_keycode, info.max_keycode
        mapping = self.display.get_keyboard_mapping(first, last - first + 1)
        self._keymap.clear()
        self._spare.clear()
        for offset, syms in enumerate(mapping):
            keycode = first + offset
            if _is_spare(syms):
                self._spare.append(keycode)
                self._original.setdefault(keycode, list(syms))
                continue
            for level, keysym in enumerate(syms[:2]):
                if keysym and keysym not in self._keymap:
                    self._keymap[keysym] = (keycode, level == 1)
        # Keycodes 8..255 only: higher ones cannot be sent by core clients.
        self._spare = [k for k in self._spare if k <= 255]
        self._bound.clear()

    def keycode_for(self, keysym: int) -> tuple[int, bool]:
        """(keycode, needs shift) for `keysym`, binding a spare keycode when needed."""
        if keysym in self._bound:
            self._bound.move_to_end(keysym)
            return self._bound[keysym], False
        if keysym in self._keymap:
            return self._keymap[keysym]
        return self._bind_spare(keysym), False

    def restore_keymap(self) -> None:
        """Give the spare keycodes we rebound their original symbols back."""
        for keycode in self._bound.values():
            syms = self._original.get(keycode) or [0]
            self.display.change_keyboard_mapping(keycode, [tuple(syms)])
        self._bound.clear()
        self.display.sync()

    def _bind_spare(self, keysym: int) -> int:
        if not self._spare:
            raise RuntimeError("the keyboard map has no spare keycode to type this character")
        if len(self._bound) < len(self._spare):
            keycode = self._spare[len(self._bound)]
        else:
            _old, keycode = self._bound.popitem(last=False)
            wait = self._last_used.get(keycode, 0) + _REBIND_SAFE_SECONDS - time.monotonic()
            if wait > 0:
                self.display.sync()
                time.sleep(wait)
        self.display.change_keyboard_mapping(keycode, [(keysym, keysym)])
        self.display.sync()
        self._bound[keysym] = keycode
        return keycode

    # --- keys ----------------------------------------------------------------------

    def press_key(self, keycode: int) -> None:
        xtest.fake_input(self.display, X.KeyPress, keycode)
        self._pressed_keys.append(keycode)
        self._last_used[keycode] = time.monotonic()

    def release_key(self, keycode: int) -> None:
        xtest.fake_input(self.display, X.KeyRelease, keycode)
        if keycode in self._pressed_keys:
            self._pressed_keys.remove(keycode)
        self._last_used[keycode] = time.monotonic()

    def press_combination(self, keysyms: list[int], *, flush: bool = True) -> list[int]:
        """Press the keys of a combination in order; return the keycodes pressed."""
        pressed: list[int] = []
        shift_code = self._keymap.get(_SHIFT, (0, False))[0]
        for keysym in keysyms:
            keycode, needs_shift = self.keycode_for(keysym)
            if needs_shift and shift_code and shift_code not in pressed:
                self.press_key(shift_code)
                pressed.append(shift_code)
            self.press_key(keycode)
            pressed.append(keycode)
        if flush:
            self.display.flush()
        return pressed

    def release_keys(self, keycodes: list[int], *, flush: bool = True) -> None:
        for keycode in reversed(keycodes):
            self.release_key(keycode)
        if flush:
            self.display.flush()

    def tap_combination(self, keysyms: list[int], *, flush: bool = True) -> None:
        pressed = self.press_combination(keysyms, flush=flush)
        self.release_keys(pressed, flush=flush)

    def type_keysyms(self, keysyms: list[int]) -> None:
        """Type characters given as keysyms (see keys.char_keysym), then sync once: the
        events of the whole chunk go out in one write instead of one per key."""
        for keysym in keysyms:
            self.tap_combination([keysym], flush=False)
        self.display.sync()
        self.discard_events()

    # --- pointer -------------------------------------------------------------------

    def move(self, x: int, y: int) -> None:
        xtest.fake_input(self.display, X.MotionNotify, x=x, y=y)
        self.display.flush()

    def press_button(self, button: int) -> None:
        xtest.fake_input(self.display, X.ButtonPress, button)
        self._pressed_buttons.append(button)
        self.display.flush()

    def release_button(self, button: int) -> None:
        xtest.fake_input(self.display, X.ButtonRelease, button)
        if button in self._pressed_buttons:
            self._pressed_buttons.remove(button)
        self.display.flush()

    def click(self, button: int, count: int = 1) -> None:
        for _ in range(count):
            self.press_button(button)
            self.release_button(button)

    def pointer(self) -> tuple[int, int]:
        """Where the pointer is, in physical pixels."""
        reply = self.root.query_pointer()
        return reply.root_x, reply.root_y

    # --- state ---------------------------------------------------------------------

    @property
    def held(self) -> tuple[list[int], list[int]]:
        """(keycodes, buttons) currently held down through this object."""
        return list(self._pressed_keys), list(self._pressed_buttons)

    def release_all(self, *, keep_buttons: tuple[int, ...] = ()) -> None:
        """Release every key and button still held (buttons in `keep_buttons` stay down)."""
        for keycode in reversed(self._pressed_keys):
            xtest.fake_input(self.display, X.KeyRelease, keycode)
        self._pressed_keys.clear()
        for button in reversed(self._pressed_buttons):
            if button not in keep_buttons:
                xtest.fake_input(self.display, X.ButtonRelease, button)
        self._pressed_buttons = [b for b in self._pressed_buttons if b in keep_buttons]
        self.display.sync()
        self.discard_events()

    def sync(self) -> None:
        self.display.sync()

    def discard_events(self) -> None:
        """Drop the events this connection received. It asks for none, but every client
        gets a MappingNotify per keymap change, one per character typed through a spare
        keycode, and python-xlib would keep them all in memory."""
        for _ in range(self.display.pending_events()):
            self.display.next_event()
