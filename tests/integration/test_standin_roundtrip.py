"""The stand-in driven by the real anthropic SDK: plain and streamed answers, scripted
errors and the SDK's retries, dynamic scripts, and what the request log records."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import anthropic
import pytest

from deskpilot.standin import (
    FINISHED_TEXT,
    STAND_IN_HEADER,
    Script,
    StandInServer,
    Turn,
)
from tests.fixtures.standin import MODEL, TEST_API_KEY, image_block, sdk_client

COMPUTER_2025 = {
    "type": "computer_20250124",
    "name": "computer",
    "display_width_px": 1024,
    "display_height_px": 768,
}
BETAS = ["computer-use-2025-01-24"]
THINKING = {"type": "enabled", "budget_tokens": 1024}
HELLO = [{"role": "user", "content": "Open the browser."}]

THINK_AND_CLICK = Turn.tool_use(
    "computer",
    {"action": "left_click", "coordinate": [512, 384], "text": "a longer value " * 4},
    thinking="The browser icon is in the panel; " * 3,
    text="I'll click the browser icon.",
)


def _as_param(message: Any) -> dict[str, Any]:
    """An assistant response turned into the message the next request sends back."""
    return {
        "role": "assistant",
        "content": [block.model_dump(exclude_none=True) for block in message.content],
    }


async def test_plain_round_trip_returns_scripted_blocks(standin) -> None:
    async with standin([THINK_AND_CLICK]) as server:
        client = sdk_client(server)
        raw = await client.beta.messages.with_raw_response.create(
            model=MODEL, max_tokens=4096, messages=HELLO, tools=[COMPUTER_2025],
            betas=BETAS, thinking=THINKING,
        )  # fmt: skip
        message = await raw.parse()

    assert raw.headers[STAND_IN_HEADER] == "true"
    assert message.model == MODEL
    assert [b.type for b in message.content] == ["thinking", "text", "tool_use"]
    thinking, text, tool_use = message.content
    assert thinking.thinking == "The browser icon is in the panel; " * 3
    assert thinking.signature
    assert text.text == "I'll click the browser icon."
    assert tool_use.name == "computer"
    assert tool_use.id.startswith("toolu_")
    assert tool_use.input["coordinate"] == [512, 384]
    assert message.stop_reason == "tool_use"
    assert message.usage.input_tokens > 0
    assert message.usage.output_tokens > 0


async def test_streamed_round_trip_sends_every_delta_kind(standin) -> None:
    async with standin([THINK_AND_CLICK]) as server:
        client = sdk_client(server)
        async with client.beta.messages.stream(
            model=MODEL, max_tokens=4096, messages=HELLO, tools=[COMPUTER_2025],
            betas=BETAS, thinking=THINKING,
        ) as stream:  # fmt: skip
            events = [event async for event in stream]
            final = await stream.get_final_message()

    deltas = [e.delta.type for e in events if e.type == "content_block_delta"]
    assert {"thinking_delta", "signature_delta", "text_delta", "input_json_delta"} <= set(deltas)
    assert deltas.count("input_json_delta") > 2  # the tool input arrives in pieces
    assert deltas.count("text_delta") > 1
    assert events[0].type == "message_start"
    assert events[-1].type == "message_stop"
    thinking, text, tool_use = final.content
    assert thinking.thinking == "The browser icon is in the panel; " * 3
    assert text.text == "I'll click the browser icon."
    assert tool_use.input == THINK_AND_CLICK.content[2].input
    assert final.stop_reason == "tool_use"
    assert server.message_requests[0].stream is True


async def test_tool_loop_continues_with_thinking_kept(standin) -> None:
    async with standin([THINK_AND_CLICK, "Done."]) as server:
        client = sdk_client(server)
        first = await client.beta.messages.create(
            model=MODEL, max_tokens=4096, messages=HELLO, tools=[COMPUTER_2025],
            betas=BETAS, thinking=THINKING,
        )  # fmt: skip
        tool_use = first.content[-1]
        result = {"type": "tool_result", "tool_use_id": tool_use.id, "content": "clicked"}
        second = await client.beta.messages.create(
            model=MODEL, max_tokens=4096, tools=[COMPUTER_2025], betas=BETAS, thinking=THINKING,
            messages=[*HELLO, _as_param(first), {"role": "user", "content": [result]}],
        )  # fmt: skip

    assert second.content[0].text == "Done."
    assert second.stop_reason == "end_turn"


async def test_finished_script_answers_end_turn(standin) -> None:
    async with standin([]) as server:
        message = await sdk_client(server).beta.messages.create(
            model=MODEL, max_tokens=100, messages=HELLO
        )
    assert message.content[0].text == FINISHED_TEXT
    assert message.stop_reason == "end_turn"


@pytest.mark.parametrize(
    ("failure", "error_class"),
    [
        (Turn.failure(529), anthropic.OverloadedError),
        (Turn.failure(429, retry_after=0.01), anthropic.RateLimitError),
    ],
)
async def test_sdk_retries_scripted_errors(standin, failure: Turn, error_class: type) -> None:
    async with standin([failure, "after the retry"]) as server:
        message = await sdk_client(server, max_retries=1).beta.messages.create(
            model=MODEL, max_tokens=100, messages=HELLO
        )
        assert message.content[0].text == "after the retry"
        assert [r.status for r in server.message_requests] == [failure.error.status, 200]

    async with standin([failure, "never reached"]) as server:
        with pytest.raises(error_class) as caught:
            await sdk_client(server, max_retries=0).beta.messages.create(
                model=MODEL, max_tokens=100, messages=HELLO
            )
        assert caught.value.body["error"]["type"] == failure.error.error_type


async def test_error_mid_stream_reaches_the_sdk(standin) -> None:
    failure = Turn(error={"status": 529, "in_stream": True})
    async with standin([failure, failure]) as server:
        client = sdk_client(server)
        with pytest.raises(anthropic.APIStatusError) as caught:
            async with client.beta.messages.stream(
                model=MODEL, max_tokens=100, messages=HELLO
            ) as stream:
                async for _ in stream:
                    pass
        # A plain request gets the same scripted failure as an HTTP error.
        with pytest.raises(anthropic.OverloadedError):
            await client.beta.messages.create(model=MODEL, max_tokens=100, messages=HELLO)
    assert caught.value.body["error"]["type"] == "overloaded_error"
    assert [r.status for r in server.message_requests] == [200, 529]


async def test_retry_after_header_is_sent(standin) -> None:
    async with standin([Turn.failure(429, retry_after=7)]) as server:
        with pytest.raises(anthropic.RateLimitError) as caught:
            await sdk_client(server).beta.messages.create(
                model=MODEL, max_tokens=100, messages=HELLO
            )
    assert caught.value.response.headers["retry-after"] == "7"


async def test_dynamic_script_decides_from_the_last_tool_result(standin) -> None:
    seen: list[str] = []

    def responder(request: dict[str, Any]) -> Turn | str:
        last = request["messages"][-1]["content"]
        if isinstance(last, str):
            return Turn.tool_use("bash", {"command": "cat /etc/hostname"})
        seen.append(last[0]["content"])
        return f"The host is {last[0]['content']}."

    bash = {"type": "bash_20250124", "name": "bash"}
    async with standin(Script(responder=responder)) as server:
        client = sdk_client(server)
        first = await client.beta.messages.create(
            model=MODEL, max_tokens=100, messages=HELLO, tools=[bash]
        )
        result = {"type": "tool_result", "tool_use_id": first.content[0].id, "content": "box-7"}
        second = await client.beta.messages.create(
            model=MODEL, max_tokens=100, tools=[bash],
            messages=[*HELLO, _as_param(first), {"role": "user", "content": [result]}],
        )  # fmt: skip

    assert first.content[0].input == {"command": "cat /etc/hostname"}
    assert seen == ["box-7"]
    assert second.content[0].text == "The host is box-7."


async def test_async_responder_after_listed_turns(standin) -> None:
    async def responder(request: dict[str, Any]) -> str | None:
        return None if len(request["messages"]) > 1 else "from the responder"

    async with standin(Script(["listed"], responder=responder)) as server:
        client = sdk_client(server)
        texts = [
            (await client.beta.messages.create(model=MODEL, max_tokens=50, messages=HELLO))
            .content[0]
            .text
            for _ in range(2)
        ]
    assert texts == ["listed", "from the responder"]


async def test_failing_responder_is_a_non_retried_server_error(standin) -> None:
    def responder(request: dict[str, Any]) -> str:
        raise RuntimeError("script bug")

    async with standin(Script(responder=responder)) as server:
        with pytest.raises(anthropic.InternalServerError, match="script bug"):
            await sdk_client(server, max_retries=2).beta.messages.create(
                model=MODEL, max_tokens=50, messages=HELLO
            )
        assert len(server.message_requests) == 1


async def test_toolset_member_tool_use_carries_the_toolset_name(standin) -> None:
    toolset = {"type": "computer_toolset_20260801"}
    async with standin([Turn.tool_use("left_click", {"coordinate": [5, 6]})]) as server:
        message = await sdk_client(server).beta.messages.create(
            model=MODEL, max_tokens=100, messages=HELLO, tools=[toolset]
        )
    tool_use = message.content[0]
    assert (tool_use.name, tool_use.toolset_name) == ("left_click", "computer")
    assert tool_use.input == {"coordinate": [5, 6]}


async def test_request_log_records_what_the_model_saw(standin) -> None:
    messages = [
        {
            "role": "user",
            "content": [
                {
                    "type": "text",
                    "text": "What is on screen?",
                    "cache_control": {"type": "ephemeral"},
                },
                image_block(64, 48),
            ],
        }
    ]
    async with standin(["A blue square."]) as server:
        await sdk_client(server).beta.messages.create(
            model=MODEL, max_tokens=100, messages=messages,
            tools=[COMPUTER_2025, {"type": "bash_20250124", "name": "bash"}], betas=BETAS,
        )  # fmt: skip
        (record,) = server.message_requests

    assert record.status == 200
    assert record.betas == frozenset(BETAS)
    assert record.tool_types == ["computer_20250124", "bash_20250124"]
    assert record.image_count == 1
    assert record.image_sizes == [(64, 48)]
    assert record.cache_breakpoints == 1
    assert record.usage is not None
    assert record.response["content"][0]["text"] == "A blue square."
    # Image data is not kept in the log, only its size.
    assert "base64 characters" in record.messages[0]["content"][1]["source"]["data"]


async def test_missing_api_key_is_an_authentication_error(standin) -> None:
    async with standin([]) as server, aiohttp.ClientSession() as session:
        response = await session.post(
            f"{server.base_url}/v1/messages",
            json={"model": MODEL, "max_tokens": 10, "messages": HELLO},
            headers={"anthropic-version": "2023-06-01"},
        )
        body = await response.json()
    assert response.status == 401
    assert response.headers[STAND_IN_HEADER] == "true"
    assert body["type"] == "error"
    assert body["error"] == {
        "type": "authentication_error",
        "message": "x-api-key header is required",
    }
    assert body["request_id"].startswith("req_")


async def test_unknown_path_is_not_found_and_health_answers(standin) -> None:
    async with standin([]) as server:
        with pytest.raises(anthropic.NotFoundError):
            await sdk_client(server).models.list()
        async with aiohttp.ClientSession() as session:
            response = await session.get(f"{server.base_url}/health")
            health = await response.json()
    assert health["stand_in"] is True
    assert "STAND-IN" in health["banner"]


async def test_body_that_is_not_json_is_rejected(standin) -> None:
    async with standin([]) as server, aiohttp.ClientSession() as session:
        response = await session.post(
            f"{server.base_url}/v1/messages",
            data=b"{not json",
            headers={"x-api-key": TEST_API_KEY, "anthropic-version": "2023-06-01"},
        )
        body = await response.json()
    assert response.status == 400
    assert body["error"]["type"] == "invalid_request_error"
    assert "error parsing the body" in body["error"]["message"]


async def test_server_is_usable_without_context_manager() -> None:
    server = StandInServer(["hi"])
    base_url = await server.start()
    try:
        assert base_url.startswith("http://127.0.0.1:")
        message = await sdk_client(server).beta.messages.create(
            model=MODEL, max_tokens=10, messages=HELLO
        )
        assert json.loads(message.model_dump_json())["content"][0]["text"] == "hi"
    finally:
        await server.stop()


async def test_missing_anthropic_version_is_rejected(standin) -> None:
    async with standin([]) as server, aiohttp.ClientSession() as session:
        response = await session.post(
            f"{server.base_url}/v1/messages",
            json={"model": MODEL, "max_tokens": 10, "messages": HELLO},
            headers={"x-api-key": TEST_API_KEY},
        )
        body = await response.json()
    assert response.status == 400
    assert body["error"]["message"] == "anthropic-version: header is required"
