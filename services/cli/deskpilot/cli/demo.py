"""The scripted demo `deskpilot up --stand-in` serves: the Messages API stand-in answering
from demo_script.json, one session at a time or many.

Each answer is chosen from the conversation in the request (its number of assistant
turns), so every session plays the whole demo. The sandbox's home folder is known only
once the first bash call has printed it; later turns use it for the editor's absolute
paths. `python -m deskpilot.cli.demo --port P` runs it; `--script FILE` plays a script
file instead (the stand-in's format), also to each conversation from its start.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from deskpilot.standin import ConversationScript, Script, Turn
from deskpilot.standin.serve import serve_main

DEMO_SCRIPT = Path(__file__).with_name("demo_script.json")
_EDITORS = ("str_replace_based_edit_tool", "str_replace_editor")


def demo_turns(path: Path = DEMO_SCRIPT) -> list[dict[str, Any]]:
    """The demo's turns as written (with `{home}` and generic tool names)."""
    return json.loads(path.read_text())["turns"]


def demo_responder(turns: list[dict[str, Any]]) -> Callable[[dict[str, Any]], Turn | None]:
    """A stand-in responder playing `turns` for each conversation it is asked about."""

    def respond(request: dict[str, Any]) -> Turn | None:
        messages = request.get("messages", [])
        index = sum(1 for m in messages if m.get("role") == "assistant")
        if index >= len(turns):
            return None  # the stand-in's "(stand-in script finished)"
        return turn_for(turns[index], request.get("tools", []), _home(messages))

    return respond


def turn_for(spec: dict[str, Any], tools: list[dict[str, Any]], home: str) -> Turn:
    """One demo step as a Turn for a session that declared `tools`."""
    text = spec["text"].replace("{home}", home)
    if "tool" not in spec:
        return Turn.text(text)
    tool_input = {k: v.replace("{home}", home) if isinstance(v, str) else v
                  for k, v in spec["input"].items()}  # fmt: skip
    names = {t.get("name") for t in tools}
    name = spec["tool"]
    if name == "editor":
        name = next((n for n in _EDITORS if n in names), _EDITORS[0])
    elif name == "computer" and any(
        str(t.get("type", "")).startswith("computer_toolset") for t in tools
    ):
        name = tool_input.pop("action")  # toolset members are named after the action
    return Turn.tool_use(name, tool_input, text=text)


def _home(messages: list[dict[str, Any]]) -> str:
    """The first line of the first tool result: what `echo "$HOME"` printed."""
    for message in messages:
        content = message.get("content")
        if message.get("role") != "user" or not isinstance(content, list):
            continue
        for block in content:
            if block.get("type") == "tool_result":
                lines = _result_text(block).strip().splitlines()
                return lines[0] if lines else ""
    return ""


def _result_text(block: dict[str, Any]) -> str:
    content = block.get("content")
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content or [] if isinstance(part, dict))


def main() -> None:
    # A script file, like the demo, is played to every conversation from its start.
    serve_main(
        lambda: Script(responder=demo_responder(demo_turns())),
        "deskpilot demo",
        script_from_file=ConversationScript.from_file,
    )


if __name__ == "__main__":
    main()
