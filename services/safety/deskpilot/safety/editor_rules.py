"""Rules for the text-editor tools (str_replace_editor, str_replace_based_edit_tool)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from deskpilot.safety.findings import Finding, InputError
from deskpilot.safety.paths import (
    canonical,
    is_credential_path,
    is_persistence_path,
    is_privilege_path,
    is_system_config_path,
)

EDITOR_TOOLS = frozenset({"str_replace_editor", "str_replace_based_edit_tool"})
EDITOR_COMMANDS = frozenset({"view", "create", "str_replace", "insert", "undo_edit"})


class EditorInputError(InputError):
    """The editor call's input is malformed."""


def editor_findings(tool_input: dict[str, Any]) -> Iterator[Finding]:
    """Findings for one editor call; raises EditorInputError on a malformed input."""
    command = tool_input.get("command")
    path = tool_input.get("path")
    if not isinstance(command, str) or command not in EDITOR_COMMANDS:
        raise EditorInputError(
            f"editor input.command must be one of {', '.join(sorted(EDITOR_COMMANDS))}, "
            f"got {command!r}",
            "call.input.command",
        )
    if not isinstance(path, str) or not path:
        raise EditorInputError("editor input.path must be a non-empty string", "call.input.path")
    shown = canonical(path)
    if command == "view":
        if is_credential_path(path):
            yield Finding(
                "editor.read-credentials", "credential_read", f"Opens credentials in {shown}."
            )
        return
    if is_privilege_path(path):
        yield Finding(
            "editor.write-account-db",
            "privilege_escalation",
            f"Edits {shown}, which grants privileges.",
        )
    elif is_persistence_path(path):
        yield Finding(
            "editor.persistence-file", "persistence", f"Edits {shown}, which runs code later."
        )
    elif is_system_config_path(path):
        yield Finding("editor.system-config", "system_config", f"Edits {shown}.")
    elif is_credential_path(path):
        yield Finding("editor.write-credentials", "system_config", f"Edits credentials in {shown}.")


def editor_text(tool_input: dict[str, Any]) -> str:
    """The normalised text custom rules match: command, path, then any new content."""
    parts = [str(tool_input.get("command", "")), str(tool_input.get("path", ""))]
    for key in ("file_text", "old_str", "new_str", "insert_text"):
        value = tool_input.get(key)
        if isinstance(value, str):
            parts.append(value)
    return "\n".join(parts)
