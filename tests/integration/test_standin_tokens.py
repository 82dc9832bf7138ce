"""Token counting and the prompt-caching simulation, read back through the real SDK."""

from __future__ import annotations

import math
from typing import Any

import anthropic
import pytest

from deskpilot.standin.tokens import TTL_SECONDS
from tests.fixtures.standin import MODEL, image_block, sdk_client

BASH = {"type": "bash_20250124", "name": "bash"}


def _user(*blocks: dict[str, Any]) -> dict[str, Any]:
    return {"role": "user", "content": list(blocks)}


def _text(text: str, cached: bool = False) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "text", "text": text}
    if cached:
        block["cache_control"] = {"type": "ephemeral"}
    return block


class FakeClock:
    """A clock the test moves, so cache expiry needs no sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _count(server: Any, messages: list[dict[str, Any]], **extra: Any) -> int:
    result = await sdk_client(server).beta.messages.count_tokens(
        model=MODEL, messages=messages, **extra
    )
    return result.input_tokens


async def test_image_costs_width_times_height_over_750(standin) -> None:
    async with standin([]) as server:
        with_image = await _count(server, [_user(_text("look"), image_block(1500, 1000))])
        without = await _count(server, [_user(_text("look"))])
        small = await _count(server, [_user(_text("look"), image_block(100, 100))])
    assert with_image - without == 2000
    assert small - without == math.ceil(100 * 100 / 750)


async def test_text_and_tools_add_tokens(standin) -> None:
    async with standin([]) as server:
        short = await _count(server, [_user(_text("x" * 40))])
        long = await _count(server, [_user(_text("x" * 4000))])
        with_tool = await _count(server, [_user(_text("x" * 40))], tools=[BASH])
    assert long - short == (4000 - 40) // 4
    assert with_tool > short


async def test_count_tokens_validates_like_create(standin) -> None:
    async with standin([]) as server:
        with pytest.raises(anthropic.BadRequestError, match="roles must alternate"):
            await _count(server, [_user(_text("a")), _user(_text("b"))])


async def test_create_usage_matches_count_tokens_without_caching(standin) -> None:
    messages = [_user(_text("describe"), image_block(300, 200))]
    async with standin(["A blue rectangle."]) as server:
        counted = await _count(server, messages, tools=[BASH])
        message = await sdk_client(server).beta.messages.create(
            model=MODEL, max_tokens=100, messages=messages, tools=[BASH]
        )
    assert message.usage.input_tokens == counted
    assert message.usage.cache_creation_input_tokens == 0
    assert message.usage.cache_read_input_tokens == 0


async def test_second_request_reads_the_cached_prefix(standin) -> None:
    clock = FakeClock()
    first_turn = [_user(_text("step one"), image_block(1200, 900), _text("cache me", cached=True))]
    async with standin(["first", "second", "third"], clock=clock) as server:
        client = sdk_client(server)
        first = await client.beta.messages.create(model=MODEL, max_tokens=100, messages=first_turn)
        # The next step moves the breakpoint to the newest block, as an agent loop does.
        second_turn = [
            _user(_text("step one"), image_block(1200, 900), _text("cache me")),
            {"role": "assistant", "content": "first"},
            _user(_text("step two " * 50, cached=True)),
        ]
        second = await client.beta.messages.create(
            model=MODEL, max_tokens=100, messages=second_turn
        )
        clock.now += TTL_SECONDS["5m"] + 1
        expired = await client.beta.messages.create(
            model=MODEL, max_tokens=100, messages=second_turn
        )

    prefix = first.usage.cache_creation_input_tokens
    assert prefix > 1024  # long enough to be cached at all
    assert first.usage.cache_read_input_tokens == 0
    assert first.usage.input_tokens == 0
    assert second.usage.cache_read_input_tokens == prefix
    assert second.usage.cache_creation_input_tokens > 0
    assert second.usage.input_tokens == 0  # the breakpoint is on the last block
    total = second.usage.cache_read_input_tokens + second.usage.cache_creation_input_tokens
    assert expired.usage.cache_read_input_tokens == 0
    assert expired.usage.cache_creation_input_tokens == total


async def test_tokens_after_the_last_breakpoint_are_plain_input(standin) -> None:
    messages = [_user(image_block(1200, 900), _text("cached", cached=True), _text("tail " * 100))]
    async with standin(["a"]) as server:
        message = await sdk_client(server).beta.messages.create(
            model=MODEL, max_tokens=100, messages=messages
        )
        counted = await _count(server, messages)
    usage = message.usage
    assert usage.cache_creation_input_tokens > 0
    assert usage.input_tokens == math.ceil(len("tail " * 100) / 4)
    assert usage.input_tokens + usage.cache_creation_input_tokens == counted


async def test_short_prefix_is_not_cached(standin) -> None:
    messages = [_user(_text("short", cached=True))]
    async with standin(["a", "b"]) as server:
        client = sdk_client(server)
        runs = [
            (await client.beta.messages.create(model=MODEL, max_tokens=10, messages=messages)).usage
            for _ in range(2)
        ]
    for usage in runs:
        assert usage.cache_creation_input_tokens == 0
        assert usage.cache_read_input_tokens == 0
        assert usage.input_tokens > 0


async def test_cache_is_per_model(standin) -> None:
    messages = [_user(image_block(1200, 900), _text("cached", cached=True))]
    async with standin(["a", "b"]) as server:
        client = sdk_client(server)
        await client.beta.messages.create(model=MODEL, max_tokens=10, messages=messages)
        other = await client.beta.messages.create(
            model="claude-opus-4-7", max_tokens=10, messages=messages
        )
    assert other.usage.cache_read_input_tokens == 0
    assert other.usage.cache_creation_input_tokens > 0
