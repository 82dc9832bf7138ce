"""Token estimates and a prompt-caching simulation, so benchmarks can compare strategies.

The prompt is a sequence of segments in the order the API caches it: tools, system, then
each message's content blocks. Counting: text ≈ characters / 4, an image = width * height
/ 750 of its real size, each tool definition a fixed estimate.

Caching follows the documented behaviour: a `cache_control` block marks a breakpoint;
the prefix up to it is written to the cache (if it is long enough to be cacheable); a
later request reads the longest cached prefix found at one of its breakpoints or up to
20 blocks before one. Read tokens are `cache_read_input_tokens`, tokens from there to the
last breakpoint are `cache_creation_input_tokens`, the rest `input_tokens`.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from deskpilot.standin.tools import TOOL_USE_SYSTEM_TOKENS
from deskpilot.standin.validation import CheckedRequest

CHARS_PER_TOKEN = 4
MESSAGE_OVERHEAD_TOKENS = 3
# Shortest prefix the API caches on current Sonnet/Opus models.
DEFAULT_MIN_CACHEABLE_TOKENS = 1024
CACHE_LOOKBACK_BLOCKS = 20
TTL_SECONDS = {"5m": 300.0, "1h": 3600.0}


def text_tokens(text: str) -> int:
    """A simple estimate: one token per four characters, rounded up."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


@dataclass(frozen=True)
class Segment:
    """One cacheable block of the prompt."""

    key: bytes  # canonical JSON of the block without its cache_control
    tokens: int
    ttl: str | None  # the breakpoint's TTL when the block carries cache_control


@dataclass(frozen=True)
class InputUsage:
    """How a request's input tokens split between fresh, cache-written and cache-read."""

    input_tokens: int
    cache_creation_input_tokens: int
    cache_read_input_tokens: int

    @property
    def total(self) -> int:
        return self.input_tokens + self.cache_creation_input_tokens + self.cache_read_input_tokens


def prompt_segments(checked: CheckedRequest) -> list[Segment]:
    """The request's prompt as cacheable segments with their token estimates."""
    body = checked.body
    segments: list[Segment] = []
    for index, tool in enumerate(body.get("tools") or []):
        extra = TOOL_USE_SYSTEM_TOKENS if index == 0 else 0
        segments.append(_segment(tool, checked.tools.tokens[index] + extra))
    system = body.get("system")
    if isinstance(system, str) and system:
        segments.append(_segment({"type": "text", "text": system}, text_tokens(system)))
    elif isinstance(system, list):
        segments += [_segment(b, text_tokens(b["text"])) for b in system]
    for message in body["messages"]:
        content = message["content"]
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        for position, block in enumerate(blocks):
            overhead = MESSAGE_OVERHEAD_TOKENS if position == 0 else 0
            tokens = _block_tokens(block, checked) + overhead
            segments.append(_segment(block, tokens, _nested_ttl(block)))
    if body.get("cache_control") and segments:
        # Automatic caching: the request-level breakpoint sits on the last block.
        last = segments[-1]
        segments[-1] = Segment(last.key, last.tokens, body["cache_control"].get("ttl", "5m"))
    return segments


def _segment(block: dict[str, Any], tokens: int, ttl: str | None = None) -> Segment:
    plain = {k: v for k, v in block.items() if k != "cache_control"}
    control = block.get("cache_control")
    if control:
        ttl = control.get("ttl", "5m")
    return Segment(json.dumps(plain, sort_keys=True).encode(), tokens, ttl)


def _nested_ttl(block: dict[str, Any]) -> str | None:
    """A tool_result's inner blocks may carry the breakpoint instead of the block."""
    content = block.get("content")
    if block.get("type") == "tool_result" and isinstance(content, list):
        for inner in content:
            if isinstance(inner, dict) and inner.get("cache_control"):
                return inner["cache_control"].get("ttl", "5m")
    return None


def _block_tokens(block: dict[str, Any], checked: CheckedRequest) -> int:
    kind = block.get("type")
    if kind == "text":
        return text_tokens(block["text"])
    if kind == "image":
        return checked.image_by_block[id(block)].tokens
    if kind == "thinking":
        return text_tokens(block["thinking"])
    if kind == "tool_use":
        return text_tokens(block["name"] + json.dumps(block["input"]))
    if kind == "tool_result":
        content = block.get("content")
        if isinstance(content, list):
            return 5 + sum(_block_tokens(inner, checked) for inner in content)
        return 5 + text_tokens(content or "")
    return text_tokens(json.dumps(block))


def output_tokens(blocks: list[dict[str, Any]]) -> int:
    """Estimated output tokens of generated blocks (the API never reports zero)."""
    total = 0
    for block in blocks:
        if block["type"] == "text":
            total += text_tokens(block["text"])
        elif block["type"] == "thinking":
            total += text_tokens(block["thinking"])
        elif block["type"] == "tool_use":
            total += text_tokens(block["name"] + json.dumps(block["input"]))
    return max(total, 1)


class PromptCache:
    """Cached prompt prefixes by hash, each with its expiry time."""

    def __init__(
        self,
        *,
        min_cacheable_tokens: int = DEFAULT_MIN_CACHEABLE_TOKENS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.min_cacheable_tokens = min_cacheable_tokens
        self.clock = clock
        self._expiry: dict[bytes, float] = {}

    def clear(self) -> None:
        """Forget every cached prefix."""
        self._expiry.clear()

    def __len__(self) -> int:
        now = self.clock()
        return sum(1 for expiry in self._expiry.values() if expiry > now)

    def account(self, model: str, segments: list[Segment], *, write: bool = True) -> InputUsage:
        """Split the prompt's tokens into fresh, written and read; record new prefixes."""
        now = self.clock()
        hasher = hashlib.sha256(model.encode())
        digests: list[bytes] = []
        cumulative: list[int] = []
        running = 0
        for segment in segments:
            hasher.update(len(segment.key).to_bytes(8, "big") + segment.key)
            digests.append(hasher.copy().digest())
            running += segment.tokens
            cumulative.append(running)
        breakpoints = [i for i, s in enumerate(segments) if s.ttl is not None]
        hit = self._longest_hit(digests, breakpoints, now)
        read = cumulative[hit] if hit is not None else 0
        created = 0
        if breakpoints and (hit is None or breakpoints[-1] > hit):
            end = cumulative[breakpoints[-1]]
            if end >= self.min_cacheable_tokens:
                created = end - read
        if write:
            for index in breakpoints:
                if cumulative[index] >= self.min_cacheable_tokens:
                    ttl = TTL_SECONDS[segments[index].ttl or "5m"]
                    self._expiry[digests[index]] = max(
                        self._expiry.get(digests[index], 0), now + ttl
                    )
            if hit is not None:  # a read refreshes the entry's lifetime
                self._expiry[digests[hit]] = max(
                    self._expiry[digests[hit]], now + TTL_SECONDS["5m"]
                )
        return InputUsage(running - read - created, created, read)

    def _longest_hit(self, digests: list[bytes], breakpoints: list[int], now: float) -> int | None:
        best: int | None = None
        for index in breakpoints:
            for candidate in range(index, max(-1, index - CACHE_LOOKBACK_BLOCKS), -1):
                if self._expiry.get(digests[candidate], 0) > now:
                    best = candidate if best is None else max(best, candidate)
                    break
        return best


def count_input_tokens(checked: CheckedRequest) -> int:
    """Total input tokens of a request, caching aside (for count_tokens)."""
    return sum(segment.tokens for segment in prompt_segments(checked))
