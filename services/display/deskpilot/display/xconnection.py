"""Opening python-xlib connections safely when a process talks to several X servers.

python-xlib keeps the table of extension event types on the *class*, so a second
connection to a server whose extensions use other event codes corrupts the first one's
table (`TypeError: 'type' object does not support item assignment`). `open_display`
gives each connection its own table.
"""

from __future__ import annotations

import threading

from Xlib import display as xdisplay
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
