"""Responses built with the SDK's own models, so their shape is the SDK's by construction:
a whole `BetaMessage`, or the server-sent events of a streamed one."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

from anthropic.types import beta as sdk
from anthropic.types.beta.beta_raw_message_delta_event import Delta

from deskpilot.standin.script import TextBlock, ThinkingBlock, ToolUseBlock, Turn
from deskpilot.standin.signatures import sign_thinking
from deskpilot.standin.tokens import InputUsage, output_tokens
from deskpilot.standin.tools import COMPUTER_TOOLSET_FAMILY, CheckedTools

# Sizes of the pieces text and tool input are streamed in.
TEXT_CHUNK_CHARS = 24
JSON_CHUNK_CHARS = 16


def new_id(prefix: str) -> str:
    """An id in the API's style (`msg_...`, `toolu_...`)."""
    return f"{prefix}_standin{secrets.token_hex(10)}"


def resolve_blocks(turn: Turn, tools: CheckedTools) -> list[dict[str, Any]]:
    """The turn's blocks as the API would send them: ids, signatures, toolset names."""
    blocks: list[dict[str, Any]] = []
    for block in turn.content:
        if isinstance(block, TextBlock):
            blocks.append({"type": "text", "text": block.text})
        elif isinstance(block, ThinkingBlock):
            signature = block.signature or sign_thinking(block.thinking)
            blocks.append({"type": "thinking", "thinking": block.thinking, "signature": signature})
        elif isinstance(block, ToolUseBlock):
            resolved = {
                "type": "tool_use",
                "id": block.id or new_id("toolu"),
                "name": block.name,
                "input": block.input,
            }
            if block.name in tools.toolset_members and block.name not in tools.names:
                resolved["toolset_name"] = COMPUTER_TOOLSET_FAMILY
            blocks.append(resolved)
    return blocks


def _usage(usage: InputUsage, output: int) -> sdk.BetaUsage:
    return sdk.BetaUsage(
        input_tokens=usage.input_tokens,
        cache_creation_input_tokens=usage.cache_creation_input_tokens,
        cache_read_input_tokens=usage.cache_read_input_tokens,
        output_tokens=output,
    )


def _dump(model: Any) -> dict[str, Any]:
    return model.model_dump(mode="json", exclude_unset=True)


def message_json(
    message_id: str, model: str, blocks: list[dict[str, Any]], stop_reason: str, usage: InputUsage
) -> dict[str, Any]:
    """A complete (non-streamed) response body."""
    message = sdk.BetaMessage(
        id=message_id,
        type="message",
        role="assistant",
        model=model,
        content=blocks,
        stop_reason=stop_reason,
        stop_sequence=None,
        usage=_usage(usage, output_tokens(blocks)),
    )
    return _dump(message)


def _start_event(message_id: str, model: str, usage: InputUsage) -> dict[str, Any]:
    start = sdk.BetaMessage(
        id=message_id,
        type="message",
        role="assistant",
        model=model,
        content=[],
        stop_reason=None,
        stop_sequence=None,
        usage=_usage(usage, 1),
    )
    return _dump(sdk.BetaRawMessageStartEvent(type="message_start", message=start))


def failed_stream_events(
    message_id: str, model: str, usage: InputUsage, error_body: dict[str, Any]
) -> Iterator[tuple[str, dict[str, Any]]]:
    """A stream that starts, then fails with an `error` event (e.g. overloaded)."""
    yield "message_start", _start_event(message_id, model, usage)
    yield "ping", {"type": "ping"}
    yield "error", error_body


def stream_events(
    message_id: str, model: str, blocks: list[dict[str, Any]], stop_reason: str, usage: InputUsage
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(event name, data) pairs of the streamed response, in the API's order."""
    yield "message_start", _start_event(message_id, model, usage)
    yield "ping", {"type": "ping"}
    for index, block in enumerate(blocks):
        yield from _block_events(index, block)
    delta = sdk.BetaRawMessageDeltaEvent(
        type="message_delta",
        delta=Delta(stop_reason=stop_reason, stop_sequence=None),
        usage=sdk.BetaMessageDeltaUsage(
            input_tokens=usage.input_tokens,
            cache_creation_input_tokens=usage.cache_creation_input_tokens,
            cache_read_input_tokens=usage.cache_read_input_tokens,
            output_tokens=output_tokens(blocks),
        ),
    )
    yield "message_delta", _dump(delta)
    yield "message_stop", _dump(sdk.BetaRawMessageStopEvent(type="message_stop"))


def _block_events(index: int, block: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    kind = block["type"]
    if kind == "text":
        opening: dict[str, Any] = {"type": "text", "text": ""}
        deltas = [
            sdk.BetaTextDelta(type="text_delta", text=c)
            for c in _chunks(block["text"], TEXT_CHUNK_CHARS)
        ]
    elif kind == "thinking":
        opening = {"type": "thinking", "thinking": "", "signature": ""}
        deltas = [
            sdk.BetaThinkingDelta(type="thinking_delta", thinking=c)
            for c in _chunks(block["thinking"], TEXT_CHUNK_CHARS)
        ]
        deltas.append(sdk.BetaSignatureDelta(type="signature_delta", signature=block["signature"]))
    else:
        opening = {**block, "input": {}}
        # Like the API: an empty first fragment, then the input's JSON in pieces.
        pieces = ["", *_chunks(json.dumps(block["input"]), JSON_CHUNK_CHARS)]
        deltas = [sdk.BetaInputJSONDelta(type="input_json_delta", partial_json=p) for p in pieces]
    start = sdk.BetaRawContentBlockStartEvent(
        type="content_block_start", index=index, content_block=opening
    )
    yield "content_block_start", _dump(start)
    for delta in deltas:
        event = sdk.BetaRawContentBlockDeltaEvent(
            type="content_block_delta", index=index, delta=delta
        )
        yield "content_block_delta", _dump(event)
    yield (
        "content_block_stop",
        _dump(sdk.BetaRawContentBlockStopEvent(type="content_block_stop", index=index)),
    )


def _chunks(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def sse(event: str, data: dict[str, Any]) -> bytes:
    """One server-sent event."""
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()
