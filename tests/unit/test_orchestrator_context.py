"""Screenshot pruning in cache-friendly batches, and cache breakpoints on recent turns."""

from __future__ import annotations

import copy

import pytest

from deskpilot.orchestrator.context import (
    PLACEHOLDER,
    ContextPolicy,
    count_images,
    images_to_prune,
    prepare,
)


def _image(tag: str) -> dict:
    return {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": tag}}


def _trajectory(steps: int) -> list[dict]:
    """A task, then `steps` rounds of (assistant tool_use, user tool_result with a screenshot)."""
    messages: list[dict] = [{"role": "user", "content": "open the editor"}]
    for i in range(steps):
        messages.append(
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": f"t{i}", "name": "computer",
                             "input": {"action": "screenshot"}}],
            }
        )  # fmt: skip
        messages.append(
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": f"t{i}",
                             "content": [_image(f"shot-{i}")]}],
            }
        )  # fmt: skip
    return messages


def _kept_images(messages: list[dict]) -> list[str]:
    kept = []
    for message in messages:
        if isinstance(message["content"], str):
            continue
        for block in message["content"]:
            for item in block.get("content", []) if block["type"] == "tool_result" else []:
                if item["type"] == "image":
                    kept.append(item["source"]["data"])
    return kept


def _without_breakpoints(messages: list[dict]) -> list[dict]:
    """Breakpoints move every turn by design; compare what is cached without them."""
    out = []
    for m in messages:
        if not isinstance(m["content"], str):
            blocks = [{k: v for k, v in b.items() if k != "cache_control"} for b in m["content"]]
            m = {**m, "content": blocks}
        out.append(m)
    return out


def _breakpoints(messages: list[dict]) -> int:
    return sum(
        1
        for m in messages
        if not isinstance(m["content"], str)
        for block in m["content"]
        if "cache_control" in block
    )


@pytest.mark.parametrize(
    ("total", "expected"), [(0, 0), (3, 0), (7, 0), (8, 5), (12, 5), (13, 10), (30, 25)]
)
def test_images_are_pruned_a_batch_at_a_time(total: int, expected: int) -> None:
    assert images_to_prune(total, ContextPolicy(keep_recent_images=3, prune_batch=5)) == expected


def test_prepare_keeps_the_newest_images_and_replaces_older_ones() -> None:
    messages = _trajectory(9)
    prepared = prepare(messages, ContextPolicy(keep_recent_images=3, prune_batch=5))
    assert _kept_images(prepared) == [f"shot-{i}" for i in range(5, 9)]
    placeholders = [
        item
        for m in prepared[1:]
        for block in m["content"]
        for item in block.get("content", [])
        if item.get("text") == PLACEHOLDER
    ]
    assert len(placeholders) == 5
    assert count_images(messages) == 9  # the stored history is untouched


def test_the_sent_prefix_is_stable_between_batches() -> None:
    policy = ContextPolicy(keep_recent_images=3, prune_batch=5)
    earlier = prepare(_trajectory(9), policy)
    later = prepare(_trajectory(11), policy)
    assert _without_breakpoints(later)[: len(earlier)] == _without_breakpoints(earlier)


def test_breakpoints_sit_on_the_latest_user_turns_only() -> None:
    messages = _trajectory(6)
    messages[2]["content"][0]["cache_control"] = {"type": "ephemeral"}  # stale marker
    prepared = prepare(messages, ContextPolicy(cached_user_turns=3))
    assert _breakpoints(prepared) == 3
    user_turns = [m for m in prepared if m["role"] == "user"]
    assert all("cache_control" in m["content"][-1] for m in user_turns[-3:])
    assert messages[2]["content"][0]["cache_control"]  # original left as it was


def test_a_plain_string_turn_becomes_a_marked_text_block() -> None:
    prepared = prepare([{"role": "user", "content": "hello"}], ContextPolicy(cached_user_turns=1))
    assert prepared[0]["content"] == [
        {"type": "text", "text": "hello", "cache_control": {"type": "ephemeral"}}
    ]


def test_policy_refuses_more_breakpoints_than_the_api_allows() -> None:
    with pytest.raises(ValueError, match="cached_user_turns"):
        ContextPolicy(cached_user_turns=4)
    assert copy.deepcopy(ContextPolicy()) == ContextPolicy()
