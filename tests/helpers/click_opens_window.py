"""An X app for tests: a coloured button window at X Y W H on $DISPLAY; a click on it maps
a new window named `opened-by-click`. Prints `ready` once the button is mapped."""

from __future__ import annotations

import os
import sys

from Xlib import X

from deskpilot.display.xconnection import open_display


def main() -> None:
    x, y, width, height = (int(v) for v in sys.argv[1:5])
    display = open_display(os.environ["DISPLAY"])
    screen = display.screen()
    button = screen.root.create_window(
        x, y, width, height, 0, screen.root_depth,
        background_pixel=0x3366CC, override_redirect=True,
        event_mask=X.ButtonPressMask | X.ExposureMask,
    )  # fmt: skip
    button.set_wm_name("click-me")
    button.map()
    display.sync()
    print("ready", flush=True)
    while True:
        event = display.next_event()
        if event.type == X.ButtonPress:
            opened = screen.root.create_window(
                x, y + height + 10, 200, 100, 0, screen.root_depth,
                background_pixel=0x33CC66, override_redirect=True,
            )  # fmt: skip
            opened.set_wm_name("opened-by-click")
            opened.map()
            display.sync()


if __name__ == "__main__":
    main()
