"""Without a session bus there is no accessibility tree: the context says so, and the
gate judges by OCR alone."""

from __future__ import annotations

import pytest

from deskpilot.display.accessibility import AccessibilityTree


def test_without_a_session_bus_the_context_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    tree = AccessibilityTree()
    try:
        ui = tree.describe(10, 10, "xterm")
    finally:
        tree.close()
    assert not ui.available
    assert ui.window_class == "xterm" and not ui.widget.role
