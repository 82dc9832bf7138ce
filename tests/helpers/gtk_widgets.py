"""A GTK window for accessibility tests: "Account settings" with a "Delete account" button
and a password field labelled "Password", which has the focus. Run by Debian's Python
(python3-gi); prints one JSON line once shown: the screen point at the centre of each
widget, e.g. {"button": [x, y], "password": [x, y]}."""

from __future__ import annotations

import json

import gi

gi.require_version("Gtk", "3.0")
from gi.repository import GLib, Gtk  # noqa: E402


def centre(widget: Gtk.Widget, window: Gtk.Window) -> list[int]:
    _, left, top = window.get_window().get_origin()
    allocation = widget.get_allocation()
    x, y = widget.translate_coordinates(window, allocation.width // 2, allocation.height // 2)
    return [left + x, top + y]


def main() -> None:
    window = Gtk.Window(title="Account settings")
    window.set_default_size(420, 200)
    window.move(80, 80)
    box = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, spacing=12, margin=24)
    label = Gtk.Label(label="Password")
    password = Gtk.Entry(visibility=False)
    label.set_mnemonic_widget(password)  # the field's label, as AT-SPI's labelled-by
    button = Gtk.Button(label="Delete account")
    for widget in (label, password, button):
        box.pack_start(widget, False, False, 0)
    window.add(box)
    window.connect("destroy", Gtk.main_quit)
    window.show_all()
    window.present()
    password.grab_focus()

    def report() -> bool:
        points = {"button": centre(button, window), "password": centre(password, window)}
        print(json.dumps(points), flush=True)
        return False

    GLib.timeout_add(500, report)  # once the window manager has placed it
    Gtk.main()


if __name__ == "__main__":
    main()
