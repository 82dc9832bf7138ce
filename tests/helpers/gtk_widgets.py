"""A GTK window for accessibility tests, "Account settings": a "Delete account" button,
an icon-only "Move to Trash" button (no text on screen, only its accessible name), a
tiny "Pay" button and a faint "Accept" one, a password field labelled "Password" (it
has the focus) and a card field labelled "Security code (CVV)". Run by Debian's Python
(python3-gi); prints one JSON line once shown: the screen point at the centre of each
widget, e.g. {"button": [x, y], "trash": [x, y], ...}."""

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
    box = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, spacing=8, margin=16)
    label = Gtk.Label(label="Password")
    password = Gtk.Entry(visibility=False)
    label.set_mnemonic_widget(password)  # the field's label, as AT-SPI's labelled-by
    cvv_label = Gtk.Label(label="Security code (CVV)")
    cvv = Gtk.Entry(max_length=4)
    cvv_label.set_mnemonic_widget(cvv)
    button = Gtk.Button(label="Delete account")
    trash = Gtk.Button.new_from_icon_name("user-trash", Gtk.IconSize.BUTTON)
    trash.get_accessible().set_name("Move to Trash")
    pay = Gtk.Button(label="Pay")
    accept = Gtk.Button(label="Accept")
    css = Gtk.CssProvider()
    css.load_from_data(
        b"#pay { font-size: 5px; padding: 0; min-height: 0; } #accept { opacity: 0.08; }"
    )
    Gtk.StyleContext.add_provider_for_screen(window.get_screen(), css, 600)
    pay.set_name("pay")
    accept.set_name("accept")
    row = Gtk.Box(spacing=8)
    for widget in (button, trash, pay, accept):
        row.pack_start(widget, False, False, 0)
    for widget in (label, password, cvv_label, cvv, row):
        box.pack_start(widget, False, False, 0)
    window.add(box)
    window.connect("destroy", Gtk.main_quit)
    window.show_all()
    window.present()
    password.grab_focus()

    def report() -> bool:
        widgets = {"button": button, "trash": trash, "pay": pay, "accept": accept,
                   "password": password, "cvv": cvv}  # fmt: skip
        points = {name: centre(widget, window) for name, widget in widgets.items()}
        print(json.dumps(points), flush=True)
        return False

    GLib.timeout_add(500, report)  # once the window manager has placed it
    Gtk.main()


if __name__ == "__main__":
    main()
