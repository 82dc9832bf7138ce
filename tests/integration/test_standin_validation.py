"""Every request rule the stand-in enforces, each broken once: the real SDK must raise
BadRequestError with a message that names the field and the problem."""

from __future__ import annotations

import base64
from typing import Any

import anthropic
import pytest
from anthropic.types.beta import BetaMessage

from deskpilot.standin import Script, Turn
from deskpilot.standin.signatures import sign_thinking
from tests.fixtures.standin import MODEL, image_b64, image_block, sdk_client

BASH = {"type": "bash_20250124", "name": "bash"}
HELLO = {"role": "user", "content": "hello"}


def _tool_use(tool_id: str = "toolu_1") -> dict[str, Any]:
    return {"type": "tool_use", "id": tool_id, "name": "bash", "input": {"command": "ls"}}


def _result(tool_id: str = "toolu_1") -> dict[str, Any]:
    return {"type": "tool_result", "tool_use_id": tool_id, "content": "a b"}


def _thinking(text: str = "plan") -> dict[str, Any]:
    return {"type": "thinking", "thinking": text, "signature": sign_thinking(text)}


def _body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"model": MODEL, "max_tokens": 4096, "messages": [HELLO]}
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def _user(*blocks: Any) -> dict[str, Any]:
    return {"role": "user", "content": list(blocks)}


def _assistant(*blocks: Any) -> dict[str, Any]:
    return {"role": "assistant", "content": list(blocks)}


def _image(media_type: str, data: str, source_type: str = "base64") -> dict[str, Any]:
    return {
        "type": "image",
        "source": {"type": source_type, "media_type": media_type, "data": data},
    }


def _cached_text(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text, "cache_control": {"type": "ephemeral"}}


TOOL_LOOP = [HELLO, _assistant(_tool_use()), _user(_result())]

CASES: dict[str, tuple[dict[str, Any], str]] = {
    "model required": (_body(model=None), "model: Field required"),
    "max_tokens required": (_body(max_tokens=None), "max_tokens: Field required"),
    "messages required": (_body(messages=None), "messages: Field required"),
    "no messages": (_body(messages=[]), "messages: at least one message is required"),
    "unknown field": (_body(colour="blue"), "colour: Extra inputs are not permitted"),
    "max_tokens positive": (_body(max_tokens=0), "max_tokens: Input should be an integer"),
    "first message from user": (
        _body(messages=[{"role": "assistant", "content": "hi"}, HELLO]),
        'messages: first message must use the "user" role',
    ),
    "roles alternate": (
        _body(messages=[HELLO, HELLO]),
        'roles must alternate between "user" and "assistant", but found multiple "user" roles',
    ),
    "unknown role": (
        _body(messages=[{"role": "system", "content": "x"}]),
        "messages.0.role: Input should be 'user' or 'assistant'",
    ),
    "assistant cannot send images": (
        _body(messages=[HELLO, _assistant(image_block(8, 8))]),
        "messages.1.content.0: Input tag 'image' found using 'type' does not match",
    ),
    "user cannot send tool_use": (
        _body(messages=[_user(_tool_use())], tools=[BASH]),
        "messages.0.content.0: Input tag 'tool_use' found",
    ),
    "block fields are known": (
        _body(
            messages=[
                HELLO,
                _assistant({"type": "text", "text": "x", "parsed_output": None}),
                HELLO,
            ]
        ),
        "messages.1.content.0.text.parsed_output: Extra inputs are not permitted",
    ),
    "empty text block": (
        _body(messages=[_user({"type": "text", "text": ""})]),
        "messages.0.content.0.text: text content blocks must be non-empty",
    ),
    "empty content": (
        _body(messages=[{"role": "user", "content": []}]),
        "messages.0: all messages must have non-empty content",
    ),
    "tool_use answered": (
        _body(
            messages=[HELLO, _assistant(_tool_use()), _user({"type": "text", "text": "?"})],
            tools=[BASH],
        ),
        "messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: "
        "toolu_1",
    ),
    "every tool_use answered": (
        _body(
            messages=[
                HELLO,
                _assistant(_tool_use("toolu_1"), _tool_use("toolu_2")),
                _user(_result("toolu_1")),
            ],
            tools=[BASH],
        ),
        "`tool_use` ids were found without `tool_result` blocks immediately after: toolu_2",
    ),
    "conversation cannot end on tool_use": (
        _body(messages=[HELLO, _assistant(_tool_use())], tools=[BASH]),
        "messages.1: `tool_use` ids were found without `tool_result` blocks",
    ),
    "tool_result id matches": (
        _body(messages=[HELLO, _assistant(_tool_use()), _user(_result("toolu_9"))], tools=[BASH]),
        "messages.2.content.0: unexpected `tool_use_id` found in `tool_result` blocks: toolu_9",
    ),
    "tool_result needs a tool_use before it": (
        _body(messages=[_user(_result())], tools=[BASH]),
        "messages.0.content.0: unexpected `tool_use_id` found in `tool_result` blocks: toolu_1",
    ),
    "tool_result blocks first": (
        _body(
            messages=[
                HELLO,
                _assistant(_tool_use()),
                _user({"type": "text", "text": "x"}, _result()),
            ],
            tools=[BASH],
        ),
        "messages.2.content.1: `tool_result` blocks must come before any other content",
    ),
    "tool blocks need tools": (
        _body(messages=TOOL_LOOP),
        "Requests which include `tool_use` or `tool_result` blocks must define tools.",
    ),
    "image media type allowed": (
        _body(messages=[_user(_image("image/bmp", image_b64(4, 4)))]),
        "messages.0.content.0.source.base64.media_type: Input should be 'image/jpeg'",
    ),
    "image matches its media type": (
        _body(messages=[_user(_image("image/jpeg", image_b64(4, 4, "PNG")))]),
        "Image does not match the provided media type image/jpeg (the data is image/png)",
    ),
    "image is an image": (
        _body(messages=[_user(_image("image/png", base64.b64encode(b"hello").decode()))]),
        "messages.0.content.0.source.base64.data: Could not process image",
    ),
    "image is base64": (
        _body(messages=[_user(_image("image/png", "not base64!"))]),
        "The image data is not valid base64",
    ),
    "image source is base64": (
        _body(messages=[_user(_image("image/png", "x", source_type="url"))]),
        "messages.0.content.0.source.type: the stand-in accepts only 'base64'",
    ),
    "image within 5 MB": (
        _body(messages=[_user(_image("image/png", "A" * (5 * 1024 * 1024 + 4)))]),
        "image exceeds 5 MB maximum: 5242884 bytes > 5242880 bytes",
    ),
    "image side within 8000 px": (
        _body(messages=[_user(image_block(8001, 2))]),
        "exceed max allowed size: 8000 pixels (image is 8001x2)",
    ),
    "images in a tool_result are checked too": (
        _body(
            messages=[
                HELLO,
                _assistant(_tool_use()),
                _user(
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_1",
                        "content": [image_block(9000, 1)],
                    }
                ),
            ],
            tools=[BASH],
        ),
        "messages.2.content.0.content.0.source.base64.data: At least one of the image dimensions",
    ),
    "many images are smaller": (
        _body(messages=[_user(*[image_block(2001, 1) for _ in range(21)])]),
        "max allowed size for many-image requests: 2000 pixels",
    ),
    "at most four cache breakpoints": (
        _body(
            system=[_cached_text("s1"), _cached_text("s2")],
            messages=[_user(_cached_text("u1"), _cached_text("u2"), _cached_text("u3"))],
        ),
        "A maximum of 4 blocks with cache_control may be provided. Found 5.",
    ),
    "cache_control is ephemeral": (
        _body(
            messages=[_user({"type": "text", "text": "x", "cache_control": {"type": "forever"}})]
        ),
        "messages.0.content.0.cache_control.type: Input should be 'ephemeral'",
    ),
    "cache ttl is known": (
        _body(
            messages=[
                _user(
                    {
                        "type": "text",
                        "text": "x",
                        "cache_control": {"type": "ephemeral", "ttl": "2h"},
                    }
                )
            ]
        ),
        "messages.0.content.0.cache_control.ephemeral.ttl: Input should be '5m' or '1h'",
    ),
    "thinking budget at least 1024": (
        _body(thinking={"type": "enabled", "budget_tokens": 1000}),
        "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024",
    ),
    "thinking budget below max_tokens": (
        _body(max_tokens=2048, thinking={"type": "enabled", "budget_tokens": 2048}),
        "`max_tokens` must be greater than `thinking.budget_tokens`",
    ),
    "tool loop keeps its thinking": (
        _body(
            thinking={"type": "enabled", "budget_tokens": 1024}, messages=TOOL_LOOP, tools=[BASH]
        ),
        "messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, but found "
        "`tool_use`. When `thinking` is enabled, a final `assistant` message must start with a "
        "thinking block",
    ),
    "thinking keeps temperature 1": (
        _body(thinking={"type": "enabled", "budget_tokens": 1024}, temperature=0.2),
        "`temperature` may only be set to 1 when thinking is enabled",
    ),
    "thinking does not force tools": (
        _body(
            thinking={"type": "enabled", "budget_tokens": 1024},
            tools=[BASH],
            tool_choice={"type": "any"},
        ),
        "Thinking may not be enabled when tool_choice forces tool use.",
    ),
    "tool_choice names a declared tool": (
        _body(tools=[BASH], tool_choice={"type": "tool", "name": "computer"}),
        "tool_choice.tool.name: tool 'computer' is not among the request's tools",
    ),
    "thinking comes back unchanged": (
        _body(
            messages=[HELLO, _assistant({**_thinking("plan"), "thinking": "edited plan"}), HELLO],
        ),
        "messages.1.content.0: Invalid `signature` in `thinking` block",
    ),
}


@pytest.mark.parametrize(("body", "message"), CASES.values(), ids=CASES.keys())
async def test_rule_is_enforced(standin, body: dict[str, Any], message: str) -> None:
    async with standin(["must not be served"]) as server:
        client = sdk_client(server)
        with pytest.raises(anthropic.BadRequestError) as caught:
            await client.post("/v1/messages", body=body, cast_to=BetaMessage)
        # A rejected request does not use up a turn of the script.
        assert server.script.remaining == 1
    error = caught.value.body
    assert error["type"] == "error"
    assert error["error"]["type"] == "invalid_request_error"
    assert message in error["error"]["message"]
    assert error["request_id"].startswith("req_")


VALID: dict[str, dict[str, Any]] = {
    "tool loop": _body(messages=TOOL_LOOP, tools=[BASH]),
    "tool loop with thinking kept": _body(
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[HELLO, _assistant(_thinking(), _tool_use()), _user(_result())],
        tools=[BASH],
    ),
    "tool_choice of a declared tool": _body(
        tools=[BASH], tool_choice={"type": "tool", "name": "bash"}
    ),
    "assistant prefill": _body(messages=[HELLO, {"role": "assistant", "content": "The answer is"}]),
    "four breakpoints and every image type": _body(
        system=[_cached_text("s1")],
        messages=[
            _user(
                _cached_text("u1"),
                _cached_text("u2"),
                image_block(3, 3, "JPEG"),
                image_block(3, 3, "GIF"),
                image_block(3, 3, "WEBP", cache_control={"type": "ephemeral", "ttl": "1h"}),
            )
        ],
    ),
    "text after tool_result": _body(
        messages=[
            HELLO,
            _assistant(_tool_use()),
            _user(_result(), {"type": "text", "text": "and?"}),
        ],
        tools=[BASH],
    ),
}


@pytest.mark.parametrize("body", VALID.values(), ids=VALID.keys())
async def test_valid_request_is_served(standin, body: dict[str, Any]) -> None:
    async with standin(Script([Turn.text("served")])) as server:
        message = await sdk_client(server).post("/v1/messages", body=body, cast_to=BetaMessage)
    assert message.content[0].text == "served"
