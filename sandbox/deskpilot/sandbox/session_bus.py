"""The desktop's D-Bus session bus, for the accessibility tree.

GTK applications and Firefox publish their widgets over AT-SPI, which lives on the session
bus (its own accessibility bus is started on demand by at-spi-bus-launcher, through D-Bus
activation). The display executor reads that tree to tell the safety gate what is under
the pointer and where the focus is. Without a bus the desktop works the same, and the
gate judges by OCR alone.
"""

from __future__ import annotations

import shutil
from pathlib import Path

# What tells the toolkits that an assistive technology is listening: GTK publishes its
# tree on any bus, Firefox and Qt only when asked.
ACCESSIBILITY_ENV = {"GNOME_ACCESSIBILITY": "1", "QT_ACCESSIBILITY": "1"}


def session_bus_command(socket: Path) -> list[str] | None:
    """dbus-daemon for one sandbox, listening on `socket`; None when it is not installed."""
    daemon = shutil.which("dbus-daemon")
    if daemon is None or not Path("/usr/share/dbus-1/session.conf").is_file():
        return None
    return [daemon, "--session", "--nofork", "--nosyslog", f"--address=unix:path={socket}"]


def session_bus_env(socket: Path) -> dict[str, str]:
    return {"DBUS_SESSION_BUS_ADDRESS": f"unix:path={socket}", **ACCESSIBILITY_ENV}
