"""Opening python-xlib connections safely when a process talks to several X servers.

python-xlib keeps the table of extension event types on the *class*, so a second
connection to a server whose extensions use other event codes corrupts the first one's
table (`TypeError: 'type' object does not support item assignment`). `open_display`
gives each connection its own table. `active_window_class` names the focused window's
application.
"""

from __future__ import annotations

import threading

from Xlib import X
from Xlib import display as xdisplay
from Xlib import error as Xerror
from Xlib.protocol import display as protocol_display
from Xlib.protocol import event as protocol_event

_lock = threading.Lock()


def open_display(name: str) -> xdisplay.Display:
    """Connect to X display `name` (":N"); XAUTHORITY from the environment is honoured."""
    with _lock:
        protocol_display.Display.event_classes = protocol_event.event_class.copy()
        connection = xdisplay.Display(name)
        # Pin this connection to the table its extensions just filled in.
        connection.display.event_classes = protocol_display.Display.event_classes
        protocol_display.Display.event_classes = protocol_event.event_class.copy()
    return connection


def active_window_class(display: xdisplay.Display) -> str:
    """WM_CLASS (the class half) of the window manager's active window, or ''."""
    root = display.screen().root
    active = root.get_full_property(display.intern_atom("_NET_ACTIVE_WINDOW"), X.AnyPropertyType)
    if active is None or not active.value or not active.value[0]:
        return ""
    try:
        wm_class = display.create_resource_object("window", active.value[0]).get_wm_class()
    except Xerror.XError:  # the window closed meanwhile
        return ""
    return wm_class[1] if wm_class else ""
