"""Key names as the model writes them → X keysyms. Needs python-xlib's tables, not a display.

Syntax (xdotool's): a combination joins key names with "+" ("ctrl+shift+Escape"); several
combinations separated by spaces are pressed one after another ("ctrl+a ctrl+c"). Names are
case-insensitive ("return", "RETURN", "Return"); a single character names its own key
("a", "A", "é", "✓"); common aliases ("ctrl", "alt", "super", "cmd", "enter", "esc",
"pageup") are understood. An unknown name is an `InvalidArgument` listing what went wrong,
so nothing is pressed for a partly valid combination.
"""

from __future__ import annotations

import unicodedata
from functools import cache

from Xlib import XK

from deskpilot.common.errors import InvalidArgument

for _group in ("xkb", "latin2", "latin3", "latin4", "greek", "cyrillic", "publishing",
               "technical", "special", "xf86"):  # fmt: skip
    XK.load_keysym_group(_group)

ALIASES: dict[str, str] = {
    "ctrl": "Control_L",
    "control": "Control_L",
    "lctrl": "Control_L",
    "rctrl": "Control_R",
    "alt": "Alt_L",
    "lalt": "Alt_L",
    "ralt": "Alt_R",
    "altgr": "ISO_Level3_Shift",
    "option": "Alt_L",
    "shift": "Shift_L",
    "lshift": "Shift_L",
    "rshift": "Shift_R",
    "super": "Super_L",
    "win": "Super_L",
    "windows": "Super_L",
    "cmd": "Super_L",
    "command": "Super_L",
    "meta": "Meta_L",
    "enter": "Return",
    "ret": "Return",
    "esc": "Escape",
    "del": "Delete",
    "ins": "Insert",
    "backspace": "BackSpace",
    "bksp": "BackSpace",
    "pageup": "Page_Up",
    "pgup": "Page_Up",
    "pagedown": "Page_Down",
    "pgdn": "Page_Down",
    "capslock": "Caps_Lock",
    "numlock": "Num_Lock",
    "scrolllock": "Scroll_Lock",
    "printscreen": "Print",
    "prtsc": "Print",
    "arrowup": "Up",
    "arrowdown": "Down",
    "arrowleft": "Left",
    "arrowright": "Right",
    " ": "space",
}

MODIFIER_KEYSYMS = frozenset(
    XK.string_to_keysym(name)
    for name in (
        "Shift_L", "Shift_R", "Control_L", "Control_R", "Alt_L", "Alt_R", "Meta_L", "Meta_R",
        "Super_L", "Super_R", "Hyper_L", "Hyper_R", "ISO_Level3_Shift",
    )
)  # fmt: skip

# Characters typed by `type` that are keys rather than glyphs.
CONTROL_CHARACTERS = {"\n": "Return", "\r": "Return", "\t": "Tab", "\b": "BackSpace",
                      "\x1b": "Escape"}  # fmt: skip


@cache
def _names_by_lowercase() -> dict[str, int]:
    table: dict[str, int] = {}
    for attr, value in vars(XK).items():
        if attr.startswith("XK_") and isinstance(value, int):
            table.setdefault(attr[3:].lower(), value)
    return table


def char_keysym(char: str) -> int:
    """The keysym that produces `char` (Latin-1 direct, everything else Unicode keysyms).
    Control characters other than the keys above (NUL, DEL, ...) type nothing a person
    could: an `InvalidArgument`, not a keysym no keyboard has."""
    if char in CONTROL_CHARACTERS:
        return XK.string_to_keysym(CONTROL_CHARACTERS[char])
    if unicodedata.category(char) == "Cc":
        raise InvalidArgument(
            f"character U+{ord(char):04X} is a control character with no key; "
            "only newline, tab, backspace and escape can be typed"
        )
    code = ord(char)
    if 0x20 <= code <= 0x7E or 0xA0 <= code <= 0xFF:
        return code
    return 0x01000000 + code


def keysym_for_name(name: str) -> int | None:
    """The keysym a single key name means, or None when it names no key."""
    if len(name) == 1 and name != " ":
        return char_keysym(name)
    exact = XK.string_to_keysym(name)
    if exact:
        return int(exact)
    lowered = name.lower()
    if lowered in ALIASES:
        return int(XK.string_to_keysym(ALIASES[lowered]))
    by_lowercase = _names_by_lowercase().get(lowered)
    if by_lowercase is not None:
        return by_lowercase
    return None


def split_combination(combo: str) -> list[str]:
    """ "ctrl+shift+t" → ["ctrl", "shift", "t"]. Where a key name is expected, "+" is the
    plus key itself ("ctrl++", "+"); elsewhere it separates names, so "+a" (two keys with
    no separator between them) and "ctrl+" (nothing after a separator) are errors."""
    names: list[str] = []
    position = 0
    while True:
        if combo.startswith("+", position):
            name_end = position + 1
        else:
            found = combo.find("+", position)
            name_end = len(combo) if found < 0 else found
        name = combo[position:name_end]
        if not name:
            raise InvalidArgument(f"key combination {combo!r} has an empty key name")
        names.append(name)
        if name_end == len(combo):
            return names
        if combo[name_end] != "+":
            raise InvalidArgument(
                f"key combination {combo!r}: expected '+' after {name!r}; write the plus "
                "key as 'plus' or after a modifier ('shift++')"
            )
        position = name_end + 1
        if position == len(combo):
            raise InvalidArgument(f"key combination {combo!r} ends with '+' and no key name")


def parse_combination(combo: str) -> list[int]:
    """ "ctrl+shift+t" → keysyms in press order. "ctrl++" means ctrl and the "+" key."""
    names = split_combination(combo)
    keysyms = []
    with_modifier = len(names) > 1
    for name in names:
        if with_modifier and len(name) == 1 and name.isascii() and name.isalpha():
            # "ctrl+T" means ctrl+t: the model names shift explicitly when it wants it.
            name = name.lower()
        keysym = keysym_for_name(name)
        if keysym is None:
            raise InvalidArgument(
                f"unknown key name {name!r} in {combo!r}; use X keysym names such as "
                "Return, Tab, Escape, BackSpace, Page_Up, F5, or ctrl/alt/shift/super"
            )
        keysyms.append(keysym)
    return keysyms


def parse_key_sequence(text: str) -> list[list[int]]:
    """A key action's text → one keysym list per space-separated combination."""
    if text == " ":
        return [parse_combination("space")]
    stripped = text.strip()
    if not stripped:
        raise InvalidArgument("key text is empty; give a key name such as 'Return' or 'ctrl+s'")
    return [parse_combination(combo) for combo in stripped.split()]
