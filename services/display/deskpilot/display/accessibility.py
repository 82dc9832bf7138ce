"""What the desktop shows at a point, read from the accessibility tree (AT-SPI): the widget
there, the dialog that holds it, and where the keyboard focus is.

The safety gate judges a click by the widget's role and name rather than by the words OCR
finds near the pointer, and typing by the field that has the focus. AT-SPI answers over
D-Bus (the session bus the sandbox starts; GTK and Firefox publish their widgets on it),
through libatspi's GObject bindings. Every call runs on one worker thread of its own, so a
slow application never holds up the X thread or an action, and each D-Bus call has a
short timeout: when the tree does not answer, the context says so (`available` false) and
the gate falls back to OCR.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from deskpilot.v1 import common_pb2

log = logging.getLogger(__name__)

# Milliseconds one D-Bus call to an application may take before it counts as not answering.
CALL_TIMEOUT_MS = 400
# Bounds on what one lookup reads: applications answer each node with a D-Bus round trip.
MAX_NODES = 400
MAX_DEPTH = 40
MAX_DIALOG_TEXT = 500
# Roles that hold a window's content; the widget's dialog is the nearest of them.
WINDOW_ROLES = {"dialog", "alert", "file chooser", "frame", "window"}
DIALOG_ROLES = {"dialog", "alert", "file chooser"}
# A field in a browser's own window, outside any page, is its address (or search) bar.
BROWSERS = ("firefox", "chromium", "chrome")
DOCUMENT_ROLES = {"document web", "document frame"}
# A hit-test that stops at a whole window or page has not reached the widget yet (a fresh
# Firefox content process answers so until its tree is built): asked once more.
CONTAINER_ROLES = {"frame", "window", "internal frame", "document web", "document frame"}
RETRY_SECONDS = 0.01
# What `_first_match` answers for an application without the Collection interface.
NO_COLLECTION = object()
# States worth reporting (the rest describe rendering).
STATES = {
    "focused", "editable", "sensitive", "enabled", "showing", "checked", "selected",
    "expanded", "default", "modal", "active", "focusable",
}  # fmt: skip


def _atspi() -> tuple[Any, type[Exception]] | None:
    """libatspi's bindings and the error its calls raise, or None when they or the
    session bus are missing."""
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        return None
    try:
        import gi

        gi.require_version("Atspi", "2.0")
        from gi.repository import Atspi, GLib
    except (ImportError, ValueError) as error:
        log.warning("no accessibility tree: %s", error)
        return None
    Atspi.set_timeout(CALL_TIMEOUT_MS, CALL_TIMEOUT_MS * 5)
    return Atspi, GLib.Error


class AccessibilityTree:
    """Looks up UiContexts on its own thread. `close()` when done."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="deskpilot-atspi")
        self._atspi: tuple[Any, type[Exception]] | None = None
        self._loaded = False

    def describe(self, x: int, y: int, window_class: str = "") -> common_pb2.UiContext:
        """The context at physical pixel (x, y); blocking: call through `submit`."""
        if not self._loaded:
            self._atspi, self._loaded = _atspi(), True
        if self._atspi is None:
            return common_pb2.UiContext(available=False, window_class=window_class)
        atspi, error_type = self._atspi
        try:
            return _Lookup(atspi).context(x, y, window_class)
        # An application that does not answer raises; one that closes mid-lookup leaves
        # None where a widget was. Either way the gate judges by OCR, never an error.
        except (error_type, AttributeError) as error:
            log.info("accessibility tree did not answer: %s", error)
            return common_pb2.UiContext(
                available=False, window_class=window_class, note=f"no answer: {error}"[:200]
            )

    @property
    def pool(self) -> ThreadPoolExecutor:
        return self._pool

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class _Lookup:
    """One lookup: a bounded number of D-Bus calls."""

    def __init__(self, atspi: Any) -> None:
        self.atspi = atspi
        self.nodes = 0
        # Each node's ancestors, read once per lookup: the dialog, the address bar and the
        # page's URL are all found by walking up, often from the same node.
        self._chains: dict[Any, list[Any]] = {}

    def context(self, x: int, y: int, window_class: str) -> common_pb2.UiContext:
        owners = dict(self._windows())  # window -> its application's name
        windows = list(owners)
        ui = common_pb2.UiContext(available=True, window_class=window_class)
        window = self._window_at(windows, x, y)
        if window is not None:
            widget = self._deepest_at(window, x, y)
            first = widget.get_role_name()
            if first in CONTAINER_ROLES:
                time.sleep(RETRY_SECONDS)
                widget = self._deepest_at(window, x, y)
                ui.note = f"hit-test retried: it first stopped at a {first}"
            ui.widget.CopyFrom(self.widget(widget))
            holder = self._holder(widget) or window
            ui.dialog_title = holder.get_name() or ""
            if holder.get_role_name() in DIALOG_ROLES:
                ui.dialog_text = self._dialog_text(holder)
        active = next((w for w in windows if self._has(w, "ACTIVE")), None)
        focused = self._focused(active) if active is not None else None
        # The focus lies in the active window, so both belong to its application. (Asking
        # a node for its application walks up to it: ~1 ms in Firefox, twice a lookup.)
        browser = active is not None and any(b in owners[active] for b in BROWSERS)
        if focused is not None:
            ui.focused.CopyFrom(self.widget(focused))
            ui.focus_in_address_bar = browser and self._outside_pages(focused)
        if browser:
            ui.url = self._page_url(active, focused)
        return ui

    # -- reading one widget ------------------------------------------------------------

    def widget(self, node: Any) -> common_pb2.Widget:
        states = [
            self.atspi.StateType(s).value_nick
            for s in node.get_state_set().get_states()
            if self.atspi.StateType(s).value_nick in STATES
        ]
        return common_pb2.Widget(
            role=node.get_role_name() or "",
            name=(node.get_name() or "")[:200],
            description=(node.get_description() or "")[:200],
            states=sorted(states),
            label=self._label(node)[:200],
        )

    def _label(self, node: Any) -> str:
        labelled_by = self.atspi.RelationType.LABELLED_BY
        for relation in node.get_relation_set() or []:
            if relation.get_relation_type() == labelled_by:
                names = (relation.get_target(i).get_name() for i in range(relation.get_n_targets()))
                return " ".join(n for n in names if n)
        return ""

    def _has(self, node: Any, state: str) -> bool:
        return bool(node.get_state_set().contains(getattr(self.atspi.StateType, state)))

    # -- finding nodes -----------------------------------------------------------------

    def _windows(self) -> Iterator[tuple[Any, str]]:
        """Each showing window, with the lower-case name of the application it belongs to."""
        desktop = self.atspi.get_desktop(0)
        for i in range(desktop.get_child_count()):
            app = desktop.get_child_at_index(i)
            if app is None:
                continue
            name = None
            for j in range(app.get_child_count()):
                window = app.get_child_at_index(j)
                if window is not None and self._has(window, "SHOWING"):
                    name = (app.get_name() or "").lower() if name is None else name
                    yield window, name

    def _extents(self, node: Any) -> tuple[int, int, int, int]:
        box = node.get_extents(self.atspi.CoordType.SCREEN)
        return box.x, box.y, box.width, box.height

    def _window_at(self, windows: list[Any], x: int, y: int) -> Any | None:
        """The window at the point: the active one if it holds it, else the smallest that
        does (AT-SPI has no stacking order; a dialog lies over the window it belongs to)."""
        holding = []
        for window in windows:
            left, top, width, height = self._extents(window)
            if left <= x < left + width and top <= y < top + height:
                if self._has(window, "ACTIVE"):
                    return window
                holding.append((width * height, window))
        return min(holding, key=lambda pair: pair[0])[1] if holding else None

    def _deepest_at(self, node: Any, x: int, y: int) -> Any:
        screen = self.atspi.CoordType.SCREEN
        for _ in range(MAX_DEPTH):
            inner = node.get_accessible_at_point(x, y, screen)
            if inner is None or inner == node:
                break
            node = inner
        return node

    def _ancestors(self, node: Any) -> list[Any]:
        """The node's ancestors up to its application's window, nearest first."""
        chain = self._chains.get(node)
        if chain is None:
            chain, parent = [], node
            for _ in range(MAX_DEPTH):
                parent = parent.get_parent()
                if parent is None or parent.get_role_name() == "application":
                    break
                chain.append(parent)
            self._chains[node] = chain
        return chain

    def _holder(self, node: Any) -> Any | None:
        if node.get_role_name() in WINDOW_ROLES:
            return node
        return next((a for a in self._ancestors(node) if a.get_role_name() in WINDOW_ROLES), None)

    def _descendants(self, root: Any) -> Iterator[Any]:
        """Breadth first, bounded: what is showing, at most MAX_NODES per lookup."""
        queue = [root]
        while queue and self.nodes < MAX_NODES:
            node = queue.pop(0)
            for i in range(node.get_child_count()):
                child = node.get_child_at_index(i)
                self.nodes += 1
                if child is not None and self._has(child, "SHOWING"):
                    yield child
                    queue.append(child)

    def _first_match(self, window: Any, states: list[Any], roles: list[Any]) -> Any | None:
        """The first descendant of `window` in all `states` (and of one of `roles`), asked
        of the application in one call (AT-SPI's Collection) where it answers that."""
        collection = window.get_collection_iface()
        if collection is None:
            return NO_COLLECTION
        match = self.atspi.CollectionMatchType
        rule = self.atspi.MatchRule.new(
            self.atspi.StateSet.new(states), match.ALL, {}, match.NONE,
            roles, match.ANY if roles else match.NONE, [], match.NONE, False,
        )  # fmt: skip
        found = collection.get_matches(rule, self.atspi.CollectionSortOrder.CANONICAL, 1, True)
        return found[0] if found else None

    def _focused(self, window: Any) -> Any | None:
        if self._has(window, "FOCUSED"):
            return window
        found = self._first_match(window, [self.atspi.StateType.FOCUSED], [])
        if found is not NO_COLLECTION:
            return found
        return next((n for n in self._descendants(window) if self._has(n, "FOCUSED")), None)

    def _dialog_text(self, dialog: Any) -> str:
        texts: list[str] = []
        for node in self._descendants(dialog):
            if node.get_role_name() in {"label", "static"} and node.get_name():
                texts.append(node.get_name())
            if sum(len(t) for t in texts) >= MAX_DIALOG_TEXT:
                break
        return " ".join(texts)[:MAX_DIALOG_TEXT]

    def _outside_pages(self, node: Any) -> bool:
        """A browser's text field outside any page: its address (or search) bar."""
        if node.get_role_name() not in {"entry", "combo box", "text"}:
            return False
        return not any(a.get_role_name() in DOCUMENT_ROLES for a in self._ancestors(node))

    def _page_url(self, window: Any, focused: Any | None) -> str:
        """The URL of the page the window shows: its document's, which is what loaded
        (the address bar may hold what someone is typing)."""
        document = None
        if focused is not None:
            chain = [focused, *self._ancestors(focused)]
            document = next((n for n in chain if n.get_role_name() in DOCUMENT_ROLES), None)
        if document is None:
            showing, web = self.atspi.StateType.SHOWING, self.atspi.Role.DOCUMENT_WEB
            document = self._first_match(window, [showing], [web])
        if document is NO_COLLECTION:
            document = next(
                (n for n in self._descendants(window) if n.get_role_name() in DOCUMENT_ROLES),
                None,
            )
        iface = document.get_document_iface() if document is not None else None
        return (iface.get_document_attribute_value("DocURL") or "") if iface else ""
