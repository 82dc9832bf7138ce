"""Every computer-use tool version: accepted with its beta header, rejected with the wrong
one, and its definition's fields checked — through the real SDK's typed params."""

from __future__ import annotations

from typing import Any

import anthropic
import pytest

from tests.fixtures.standin import MODEL, sdk_client

HELLO = [{"role": "user", "content": "hello"}]
SCREEN = {"display_width_px": 1280, "display_height_px": 800}
BETA_2024 = "computer-use-2024-10-22"
BETA_2025 = "computer-use-2025-01-24"
BETA_2511 = "computer-use-2025-11-24"

# (definition, the beta it needs or None when generally available)
TOOLS: dict[str, tuple[dict[str, Any], str | None]] = {
    "computer_20241022": ({"type": "computer_20241022", "name": "computer", **SCREEN}, BETA_2024),
    "bash_20241022": ({"type": "bash_20241022", "name": "bash"}, BETA_2024),
    "text_editor_20241022": (
        {"type": "text_editor_20241022", "name": "str_replace_editor"},
        BETA_2024,
    ),
    "computer_20250124": ({"type": "computer_20250124", "name": "computer", **SCREEN}, BETA_2025),
    "computer_20251124": (
        {"type": "computer_20251124", "name": "computer", "enable_zoom": True, **SCREEN},
        BETA_2511,
    ),
    "bash_20250124": ({"type": "bash_20250124", "name": "bash"}, None),
    "text_editor_20250124": ({"type": "text_editor_20250124", "name": "str_replace_editor"}, None),
    "text_editor_20250429": (
        {"type": "text_editor_20250429", "name": "str_replace_based_edit_tool"},
        None,
    ),
    "text_editor_20250728": (
        {
            "type": "text_editor_20250728",
            "name": "str_replace_based_edit_tool",
            "max_characters": 10000,
        },
        None,
    ),
    "computer_toolset_20260801": (
        {
            "type": "computer_toolset_20260801",
            "configs": {"zoom": {"enabled": False}},
            "cache_control": {"type": "ephemeral"},
        },
        None,
    ),
    "custom": (
        {
            "name": "open_url",
            "description": "Open a URL",
            "input_schema": {"type": "object", "properties": {"url": {"type": "string"}}},
        },
        None,
    ),
}
OTHER_BETA = {BETA_2024: BETA_2025, BETA_2025: BETA_2511, BETA_2511: BETA_2024}


async def _create(server: Any, tools: list[dict[str, Any]], betas: list[str]) -> Any:
    return await sdk_client(server).beta.messages.create(
        model=MODEL, max_tokens=256, messages=HELLO, tools=tools, betas=betas
    )


async def _rejected(server: Any, tools: list[dict[str, Any]], betas: list[str]) -> str:
    with pytest.raises(anthropic.BadRequestError) as caught:
        await _create(server, tools, betas)
    return caught.value.body["error"]["message"]


@pytest.mark.parametrize(("tool", "beta"), TOOLS.values(), ids=TOOLS.keys())
async def test_tool_is_accepted_with_its_beta(
    standin, tool: dict[str, Any], beta: str | None
) -> None:
    async with standin(["ok"]) as server:
        message = await _create(server, [tool], [beta] if beta else [])
        assert message.content[0].text == "ok"
        assert server.message_requests[0].tool_types == [tool.get("type", "custom")]


BETA_TOOLS = {name: row for name, row in TOOLS.items() if row[1] is not None}


@pytest.mark.parametrize(("tool", "beta"), BETA_TOOLS.values(), ids=BETA_TOOLS.keys())
async def test_tool_is_rejected_without_or_with_the_wrong_beta(
    standin, tool: dict[str, Any], beta: str
) -> None:
    async with standin([]) as server:
        for betas in ([], [OTHER_BETA[beta]]):
            message = await _rejected(server, [tool], betas)
            assert f"tools.0: Input tag '{tool['type']}' found using 'type'" in message
            assert f"needs the `anthropic-beta: {beta}` header" in message


async def test_generally_available_tools_need_no_beta_even_beside_others(standin) -> None:
    tools = [
        TOOLS["computer_20251124"][0],
        TOOLS["bash_20250124"][0],
        TOOLS["text_editor_20250728"][0],
    ]
    async with standin(["ok"]) as server:
        message = await _create(server, tools, [BETA_2511])
    assert message.content[0].text == "ok"


DEFINITION_ERRORS: dict[str, tuple[dict[str, Any], str, str]] = {
    "fixed name": (
        {"type": "computer_20250124", "name": "screen", **SCREEN},
        BETA_2025,
        "tools.0.computer_20250124.name: Input should be 'computer'",
    ),
    "editor fixed name": (
        {"type": "text_editor_20250728", "name": "str_replace_editor"},
        "",
        "tools.0.text_editor_20250728.name: Input should be 'str_replace_based_edit_tool'",
    ),
    "display size required": (
        {"type": "computer_20250124", "name": "computer", "display_height_px": 800},
        BETA_2025,
        "tools.0.computer_20250124.display_width_px: Field required",
    ),
    "display size positive": (
        {
            "type": "computer_20241022",
            "name": "computer",
            "display_width_px": 0,
            "display_height_px": 1,
        },
        BETA_2024,
        "tools.0.computer_20241022.display_width_px: Input should be a positive integer",
    ),
    "zoom only on 20251124": (
        {"type": "computer_20250124", "name": "computer", "enable_zoom": True, **SCREEN},
        BETA_2025,
        "tools.0.computer_20250124.enable_zoom: Extra inputs are not permitted",
    ),
    "max_characters only on 20250728": (
        {
            "type": "text_editor_20250429",
            "name": "str_replace_based_edit_tool",
            "max_characters": 5,
        },
        "",
        "tools.0.text_editor_20250429.max_characters: Extra inputs are not permitted",
    ),
    "unknown type": (
        {"type": "computer_20990101", "name": "computer", **SCREEN},
        BETA_2025,
        "tools.0: Input tag 'computer_20990101' found using 'type' does not match any of the "
        "expected tags: 'custom'",
    ),
    "toolset has no name": (
        {"type": "computer_toolset_20260801", "name": "computer"},
        "",
        "tools.0.computer_toolset_20260801.name: Extra inputs are not permitted",
    ),
    "toolset configs name members": (
        {"type": "computer_toolset_20260801", "configs": {"teleport": {"enabled": True}}},
        "",
        "tools.0.computer_toolset_20260801.configs.teleport: Extra inputs are not permitted",
    ),
    "toolset member configs are known": (
        {"type": "computer_toolset_20260801", "configs": {"zoom": {"scale": 2}}},
        "",
        "tools.0.computer_toolset_20260801.configs.zoom.scale: Extra inputs are not permitted",
    ),
    "custom tool has a schema": (
        {"name": "open_url"},
        "",
        "tools.0.custom.input_schema: Field required",
    ),
    "custom tool name pattern": (
        {"name": "open url", "input_schema": {"type": "object"}},
        "",
        "tools.0.custom.name: String should match pattern",
    ),
}


@pytest.mark.parametrize(
    ("tool", "beta", "expected"), DEFINITION_ERRORS.values(), ids=DEFINITION_ERRORS.keys()
)
async def test_tool_definition_is_checked(
    standin, tool: dict[str, Any], beta: str, expected: str
) -> None:
    async with standin([]) as server:
        assert expected in await _rejected(server, [tool], [beta] if beta else [])


async def test_tool_names_are_unique(standin) -> None:
    tools = [TOOLS["bash_20250124"][0], {"name": "bash", "input_schema": {"type": "object"}}]
    async with standin([]) as server:
        message = await _rejected(server, tools, [])
    assert "tools: Tool names must be unique. Found duplicate: 'bash'" in message
