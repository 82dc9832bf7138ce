"""What of the conversation goes to the model: old screenshots become a short placeholder,
and prompt-cache breakpoints sit on the system prompt and the latest user turns.

Screenshots are pruned in batches: removing one image every step would change the cached
prefix every step and defeat prompt caching, so the oldest images go `prune_batch` at a
time and the prefix stays stable in between. Caching and pruning both stay on (the
reference implementation turned pruning off whenever caching was on).
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from typing import Any

from anthropic.types.beta import BetaMessageParam, BetaTextBlockParam

PLACEHOLDER = "(older screenshot omitted to save context; newer screenshots follow)"
MAX_BREAKPOINTS = 4  # the API's limit across system, tools and messages


@dataclass(frozen=True)
class ContextPolicy:
    """How much of the history the model sees."""

    keep_recent_images: int = 3
    prune_batch: int = 5
    cached_user_turns: int = 3  # plus one breakpoint on the system prompt

    def __post_init__(self) -> None:
        if self.keep_recent_images < 0 or self.prune_batch < 1:
            raise ValueError("keep_recent_images must be >= 0 and prune_batch >= 1")
        if not 0 <= self.cached_user_turns <= MAX_BREAKPOINTS - 1:
            raise ValueError(f"cached_user_turns must be 0..{MAX_BREAKPOINTS - 1}")


def images_to_prune(total: int, policy: ContextPolicy) -> int:
    """How many of the oldest images to replace: a multiple of the batch size."""
    excess = total - policy.keep_recent_images
    if excess <= 0:
        return 0
    return excess - excess % policy.prune_batch


def prepare(messages: list[BetaMessageParam], policy: ContextPolicy) -> list[BetaMessageParam]:
    """A copy of `messages` ready to send: pruned images and cache breakpoints.

    The stored conversation is never modified, so the full history survives for replay.
    """
    prepared: list[BetaMessageParam] = _copy_containers(messages)
    _strip_cache_control(prepared)
    prune = images_to_prune(sum(1 for _ in _image_slots(prepared)), policy)
    for index, (container, position) in enumerate(list(_image_slots(prepared))):
        if index >= prune:
            break
        container[position] = BetaTextBlockParam(type="text", text=PLACEHOLDER)
    _mark_recent_user_turns(prepared, policy.cached_user_turns)
    return prepared


def _copy_containers(value: Any) -> Any:
    """A copy of the dicts and lists, sharing the leaves: what prepare() changes are
    containers, and the leaves (base64 screenshots among them) are immutable. Twice as
    fast as copy.deepcopy, which runs every step over the whole history."""
    if isinstance(value, dict):
        return {key: _copy_containers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy_containers(item) for item in value]
    return value


def count_images(messages: list[BetaMessageParam]) -> int:
    """Image blocks in `messages`, inside tool results included."""
    return sum(1 for _ in _image_slots(messages))


def _image_slots(messages: list[BetaMessageParam]) -> Iterator[tuple[list[Any], int]]:
    """(list, index) of every image block, oldest first, tool_result contents included."""
    for message in messages:
        content = message["content"]
        if isinstance(content, str):
            continue
        for block in content:
            if block.get("type") == "tool_result" and isinstance(block.get("content"), list):
                inner = block["content"]
                for i, item in enumerate(inner):
                    if item.get("type") == "image":
                        yield inner, i
        for i, block in enumerate(content):
            if block.get("type") == "image":
                yield content, i  # type: ignore[misc]


def _strip_cache_control(messages: list[BetaMessageParam]) -> None:
    for message in messages:
        if isinstance(message["content"], str):
            continue
        for block in message["content"]:
            block.pop("cache_control", None)  # type: ignore[union-attr]


def _mark_recent_user_turns(messages: list[BetaMessageParam], turns: int) -> None:
    """Put a breakpoint on the last block of the latest `turns` user messages."""
    marked = 0
    for message in reversed(messages):
        if marked == turns:
            break
        if message["role"] != "user":
            continue
        if isinstance(message["content"], str):
            message["content"] = [BetaTextBlockParam(type="text", text=message["content"])]
        last: MutableMapping[str, Any] = list(message["content"])[-1]  # type: ignore[assignment]
        last["cache_control"] = {"type": "ephemeral"}
        marked += 1
