"""The desktop: openbox (window manager) and tint2 (panel with app launchers)."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

# (what, candidate .desktop files) for the panel's launchers, first found wins.
LAUNCHERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("terminal", ("debian-xterm.desktop", "xfce4-terminal.desktop", "lxterminal.desktop")),
    ("browser", ("firefox-esr.desktop", "chromium.desktop", "firefox.desktop")),
    ("editor", ("org.xfce.mousepad.desktop", "mousepad.desktop", "gedit.desktop")),
    ("file manager", ("pcmanfm.desktop", "thunar.desktop")),
)
APPLICATION_DIRS = (Path("/usr/share/applications"), Path("/usr/local/share/applications"))


def find_launchers() -> tuple[list[Path], list[str]]:
    """The .desktop files for the panel, and the kinds of app that are not installed."""
    found, missing = [], []
    for kind, names in LAUNCHERS:
        path = next((d / n for n in names for d in APPLICATION_DIRS if (d / n).is_file()), None)
        if path is None:
            missing.append(kind)
        else:
            found.append(path)
    return found, missing


def write_panel_config(path: Path, launchers: list[Path]) -> None:
    template = resources.files("deskpilot.sandbox").joinpath("data/tint2rc.template")
    items = "\n".join(f"launcher_item_app = {launcher}" for launcher in launchers)
    path.write_text(template.read_text().replace("{launchers}", items))


def desktop_commands(panel_config: Path) -> list[tuple[str, list[str]]]:
    """(name, argv) of the desktop processes that are installed."""
    commands = []
    if shutil.which("openbox"):
        commands.append(("openbox", ["openbox", "--sm-disable"]))
    if shutil.which("tint2"):
        commands.append(("tint2", ["tint2", "-c", str(panel_config)]))
    return commands
