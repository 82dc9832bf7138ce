"""The settings table of every installed deskpilot component, for `deskpilot settings`
and the README (a test keeps the README's copy current)."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterable
from pathlib import Path

from deskpilot.cli.components import COMPONENTS, ComponentSpec
from deskpilot.common.config import CommonSettings, settings_table


def _settings_modules(components: Iterable[ComponentSpec]) -> list[str]:
    return list(dict.fromkeys(c.settings.partition(":")[0] for c in components if c.settings))


# Where each component keeps its settings class, in the order the README lists them: the
# command's own, what runs inside a sandbox, the sandbox, then the rest of the stack
# (`components.py`).
SETTINGS_MODULES = (
    "deskpilot.cli.stack",
    "deskpilot.cli.settings",
    *_settings_modules(c for c in COMPONENTS if not c.in_local_stack),
    "deskpilot.sandbox.settings",
    *_settings_modules(c for c in COMPONENTS if c.in_local_stack),
)

START, END = "<!-- settings-table:start -->", "<!-- settings-table:end -->"


def settings_classes() -> list[type[CommonSettings]]:
    """Every settings class defined in an installed component's settings module."""
    found = []
    for name in SETTINGS_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError:
            continue
        for attribute, cls in inspect.getmembers(module, inspect.isclass):
            # A private class is a base of a public one (the stack's generated ports).
            public = not attribute.startswith("_")
            if public and issubclass(cls, CommonSettings) and cls.__module__ == name:
                found.append(cls)
    return found


def markdown() -> str:
    """One table per component: flag, variable, default, meaning."""
    parts = []
    for cls in settings_classes():
        title = "deskpilot up" if cls.service_name == "up" else f"deskpilot.{cls.service_name}"
        rows = ["| flag | variable | default | meaning |", "| --- | --- | --- | --- |"]
        for flag, env, default, doc in settings_table(cls):
            rows.append(f"| `{flag}` | `{env}` | `{default}` | {doc} |")
        parts.append(f"### {title}\n\n" + "\n".join(rows))
    return "\n\n".join(parts)


def readme_with_table(readme: str) -> str:
    """`readme` with the text between the settings-table markers replaced."""
    head, _, rest = readme.partition(START)
    _, _, tail = rest.partition(END)
    return f"{head}{START}\n{markdown()}\n{END}{tail}"


def update_readme(path: Path) -> bool:
    """Rewrite the README's settings table; True if it changed."""
    old = path.read_text()
    new = readme_with_table(old)
    if new != old:
        path.write_text(new)
    return new != old
