"""Key names as the model writes them, mapped to X keysyms."""

from __future__ import annotations

import re

import pytest
from Xlib import XK

from deskpilot.common.errors import InvalidArgument
from deskpilot.display.keys import char_keysym, parse_key_sequence


def ks(name: str) -> int:
    return XK.string_to_keysym(name)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ctrl+s", [[ks("Control_L"), ks("s")]]),
        ("alt+Tab", [[ks("Alt_L"), ks("Tab")]]),
        ("Return", [[ks("Return")]]),
        ("return", [[ks("Return")]]),
        ("RETURN", [[ks("Return")]]),
        ("enter", [[ks("Return")]]),
        ("super", [[ks("Super_L")]]),
        ("ctrl+shift+Escape", [[ks("Control_L"), ks("Shift_L"), ks("Escape")]]),
        ("ctrl+T", [[ks("Control_L"), ks("t")]]),  # shift only when named
        ("A", [[ks("A")]]),  # a lone capital is the capital letter
        ("page_down", [[ks("Page_Down")]]),
        ("pgup", [[ks("Page_Up")]]),
        ("F5", [[ks("F5")]]),
        ("KP_Enter", [[ks("KP_Enter")]]),
        ("ctrl++", [[ks("Control_L"), ks("plus")]]),
        ("+", [[ks("plus")]]),
        ("shift++ +", [[ks("Shift_L"), ks("plus")], [ks("plus")]]),
        ("ctrl+a ctrl+c", [[ks("Control_L"), ks("a")], [ks("Control_L"), ks("c")]]),
        (" ", [[ks("space")]]),
        ("é", [[0xE9]]),
        ("✓", [[0x1002713]]),
    ],
)
def test_key_names(text: str, expected: list[list[int]]) -> None:
    assert parse_key_sequence(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("shift; touch F", "unknown key name 'shift;'"),  # the reference ran `touch`
        ("ctrl+nosuchkey", "unknown key name 'nosuchkey'"),
        ("ctrl+", "ends with '+' and no key name"),
        ("+a", "expected '+' after '+'"),  # pressed only "+" before
        ("++", "ends with '+'"),
        ("ctrl+++", "ends with '+'"),
        ("\x00", "U+0000 is a control character"),
        ("ctrl+\x7f", "U+007F is a control character"),
        ("", "empty"),
        ("$(reboot)", "unknown key name"),
    ],
)
def test_bad_key_names_are_rejected(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=re.escape(message)):
        parse_key_sequence(text)


def test_typed_characters_map_to_keysyms() -> None:
    assert char_keysym("a") == ord("a")
    assert char_keysym("\n") == ks("Return")
    assert char_keysym("\t") == ks("Tab")
    assert char_keysym("日") == 0x1000000 + ord("日")
    assert char_keysym("😀") == 0x1000000 + 0x1F600


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x7f", "\x9b"])
def test_control_characters_without_a_key_are_rejected(char: str) -> None:
    with pytest.raises(InvalidArgument, match="control character"):
        char_keysym(char)
