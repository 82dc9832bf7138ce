"""The Messages API client: streaming calls whose text and thinking are published as they
arrive, retries by the SDK with each wait published, and usage with its cost."""

from __future__ import annotations

import functools
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anthropic
from anthropic.types.beta import BetaMessage, BetaUsage

from deskpilot.v1 import events_pb2, session_pb2

# US dollars per million tokens: input, output. Cache writes cost 1.25x input, reads 0.1x.
PRICES: dict[str, tuple[float, float]] = {
    "claude-opus-4": (15.0, 75.0),
    "claude-opus-4-5": (5.0, 25.0),
    "claude-sonnet": (3.0, 15.0),
    "claude-3-7-sonnet": (3.0, 15.0),
    "claude-3-5-sonnet": (3.0, 15.0),
    "claude-haiku": (1.0, 5.0),
}
_FLUSH_CHARS = 200  # publish streamed text in pieces of about this size
_FLUSH_SECONDS = 0.25

PublishDelta = Callable[[events_pb2.ModelDelta], Awaitable[None]]
PublishRetry = Callable[[events_pb2.ModelRetry], Awaitable[None]]


def price_of(model: str) -> tuple[float, float]:
    """(input, output) dollars per million tokens; the longest matching prefix wins."""
    matches = [prefix for prefix in PRICES if model.startswith(prefix)]
    return PRICES[max(matches, key=len)] if matches else (0.0, 0.0)


def usage_of(model: str, usage: BetaUsage) -> session_pb2.Usage:
    """The usage of one call, with its cost at list price."""
    price_in, price_out = price_of(model)
    created = usage.cache_creation_input_tokens or 0
    read = usage.cache_read_input_tokens or 0
    cost = (
        usage.input_tokens * price_in
        + created * price_in * 1.25
        + read * price_in * 0.1
        + usage.output_tokens * price_out
    ) / 1_000_000
    return session_pb2.Usage(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_creation_input_tokens=created,
        cache_read_input_tokens=read,
        cost_usd=cost,
    )


def add_usage(total: session_pb2.Usage, more: session_pb2.Usage) -> None:
    total.input_tokens += more.input_tokens
    total.output_tokens += more.output_tokens
    total.cache_creation_input_tokens += more.cache_creation_input_tokens
    total.cache_read_input_tokens += more.cache_read_input_tokens
    total.cost_usd += more.cost_usd


def total_tokens(usage: session_pb2.Usage) -> int:
    return (
        usage.input_tokens
        + usage.output_tokens
        + usage.cache_creation_input_tokens
        + usage.cache_read_input_tokens
    )


class RetryReporter:
    """An httpx response hook: each response the SDK will retry becomes a ModelRetry event.

    The SDK keeps doing the retrying; this only reports the wait it will take (from the
    retry-after headers, or the SDK's backoff when there are none).
    """

    RETRIED = {408, 409, 429} | set(range(500, 600))

    def __init__(self) -> None:
        self.publish: PublishRetry | None = None
        self.attempt = 0

    async def __call__(self, response: object) -> None:
        status = getattr(response, "status_code", 0)
        if status not in self.RETRIED or self.publish is None:
            return
        self.attempt += 1
        headers = getattr(response, "headers", {})
        wait = _retry_after(headers) or min(0.5 * 2 ** (self.attempt - 1), 8.0)
        reason = f"{status} {headers.get('x-error-type', '') or _reason(status)}".strip()
        await self.publish(
            events_pb2.ModelRetry(attempt=self.attempt, wait_seconds=wait, reason=reason)
        )


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One TLS context for every session's client: building one loads the CA bundle,
    about 30 ms of CPU that would otherwise block the event loop at each session start."""
    return ssl.create_default_context()


def make_client(*, max_retries: int = 4, timeout: float = 600.0) -> tuple[
    anthropic.AsyncAnthropic, RetryReporter
]:  # fmt: skip
    """An AsyncAnthropic client (API key and ANTHROPIC_BASE_URL from the environment, as
    every SDK user expects) and the hook that reports its retries. Close it after use."""
    reporter = RetryReporter()
    http = anthropic.DefaultAsyncHttpxClient(
        event_hooks={"response": [reporter]}, verify=_tls_context()
    )
    client = anthropic.AsyncAnthropic(max_retries=max_retries, timeout=timeout, http_client=http)
    return client, reporter


@dataclass
class ModelCall:
    """One request's parameters (already typed SDK params)."""

    model: str
    max_tokens: int
    system: list[dict]
    tools: list[dict]
    messages: list[dict]
    betas: list[str]
    thinking_budget: int = 0


async def stream_message(
    client: anthropic.AsyncAnthropic, call: ModelCall, on_delta: PublishDelta
) -> tuple[BetaMessage, float]:
    """Stream one response; text and thinking go to `on_delta` in small pieces.

    Returns the final message and the latency in milliseconds.
    """
    started = time.perf_counter()
    extra: dict = {}
    if call.thinking_budget:
        extra["thinking"] = {"type": "enabled", "budget_tokens": call.thinking_budget}
    if call.betas:
        extra["betas"] = call.betas
    buffer = _DeltaBuffer(on_delta)
    async with client.beta.messages.stream(
        model=call.model,
        max_tokens=call.max_tokens,
        system=call.system,
        tools=call.tools,
        messages=call.messages,
        **extra,
    ) as stream:
        async for event in stream:
            if event.type != "content_block_delta":
                continue
            delta = event.delta
            if delta.type == "text_delta":
                await buffer.add(events_pb2.DELTA_KIND_TEXT, event.index, delta.text)
            elif delta.type == "thinking_delta":
                await buffer.add(events_pb2.DELTA_KIND_THINKING, event.index, delta.thinking)
        await buffer.flush()
        message = await stream.get_final_message()
    return message, (time.perf_counter() - started) * 1000


class _DeltaBuffer:
    """Coalesces streamed pieces so a long answer is a handful of events, not thousands."""

    def __init__(self, publish: PublishDelta) -> None:
        self.publish = publish
        self.kind = events_pb2.DELTA_KIND_UNSPECIFIED
        self.index = -1
        self.text = ""
        self.since = time.monotonic()

    async def add(self, kind: int, index: int, text: str) -> None:
        if (kind, index) != (self.kind, self.index):
            await self.flush()
            self.kind, self.index = kind, index
        self.text += text
        if len(self.text) >= _FLUSH_CHARS or time.monotonic() - self.since >= _FLUSH_SECONDS:
            await self.flush()

    async def flush(self) -> None:
        if self.text:
            await self.publish(
                events_pb2.ModelDelta(kind=self.kind, text=self.text, block_index=self.index)
            )
        self.text = ""
        self.since = time.monotonic()


def _retry_after(headers: object) -> float | None:
    get = getattr(headers, "get", None)
    if get is None:
        return None
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = get(name)
        if value:
            try:
                return float(value) * scale
            except ValueError:
                continue
    return None


def _reason(status: int) -> str:
    return {429: "rate_limit_error", 529: "overloaded_error"}.get(status, "api_error")
