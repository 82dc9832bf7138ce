"""What the accessibility tree says around an action (the UiContext proto, as plain data)."""

from __future__ import annotations

from dataclasses import dataclass, field

from deskpilot.v1 import common_pb2

# Roles a person clicks to make something happen (AT-SPI role names).
CLICKABLE_ROLES = frozenset(
    {
        "push button",
        "toggle button",
        "link",
        "menu item",
        "check menu item",
        "radio menu item",
        "check box",
        "radio button",
        "button",
    }
)
PASSWORD_ROLE = "password text"


@dataclass(frozen=True)
class Widget:
    """One accessible object."""

    role: str = ""
    name: str = ""
    description: str = ""
    states: frozenset[str] = frozenset()
    label: str = ""

    @property
    def what_it_says(self) -> str:
        """The text a person is told this widget is: its name, else its description."""
        return self.name or self.description

    @property
    def field_text(self) -> str:
        """Everything that names a field: its label, name and description."""
        return " ".join(t for t in (self.label, self.name, self.description) if t)


@dataclass(frozen=True)
class UiSnapshot:
    """The widget at the action's point, its dialog and the keyboard focus."""

    available: bool = False
    widget: Widget = field(default_factory=Widget)
    dialog_title: str = ""
    dialog_text: str = ""
    focused: Widget = field(default_factory=Widget)
    focus_in_address_bar: bool = False
    window_class: str = ""
    url: str = ""


def widget_of(message: common_pb2.Widget) -> Widget:
    return Widget(
        role=message.role.lower(),
        name=message.name,
        description=message.description,
        states=frozenset(s.lower() for s in message.states),
        label=message.label,
    )


def snapshot_of(message: common_pb2.UiContext) -> UiSnapshot:
    """The proto as plain data; an unset message is an unavailable tree."""
    return UiSnapshot(
        available=message.available,
        widget=widget_of(message.widget),
        dialog_title=message.dialog_title,
        dialog_text=message.dialog_text,
        focused=widget_of(message.focused),
        focus_in_address_bar=message.focus_in_address_bar,
        window_class=message.window_class,
        url=message.url,
    )
