"""Rebuilding a session's conversation from its events, so another replica (or the same
one after a restart) continues exactly where the session stopped.

Events hold everything needed: user messages, each model response's content as returned
(thinking signatures included), and each tool result with its images in the object store.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from deskpilot.bus import SCREENSHOTS_BUCKET, Bus
from deskpilot.orchestrator.results import image_block
from deskpilot.orchestrator.tools import COMPUTER_TOOLSET_NAME
from deskpilot.v1 import common_pb2, events_pb2

_FORMATS = {
    "image/png": common_pb2.IMAGE_FORMAT_PNG,
    "image/jpeg": common_pb2.IMAGE_FORMAT_JPEG,
    "image/webp": common_pb2.IMAGE_FORMAT_WEBP,
}


@dataclass
class Rebuilt:
    """A conversation as it stood after the last stored event."""

    conversation: list[dict] = field(default_factory=list)
    last_sequence: int = 0
    steps: int = 0
    last_screenshot: common_pb2.Image | None = None
    # tool_use ids a person approved: after an interruption they run without being judged
    # and asked again (the first run may already have happened; its key replays it).
    approved: set[str] = field(default_factory=set)


async def rebuild(bus: Bus, session_id: str) -> Rebuilt:
    """Replay the session's events into the messages the model has seen."""
    state = Rebuilt()
    toolset_ids: set[str] = set()
    asked: dict[str, str] = {}  # confirmation id -> tool_use id
    async for event in bus.replay_events(session_id):
        state.last_sequence = event.sequence
        state.steps = max(state.steps, event.step)
        kind = event.WhichOneof("payload")
        if kind == "user_message":
            _add_user_text(state.conversation, event.user_message.text)
        elif kind == "model_response":
            content = json.loads(event.model_response.content_json or "[]")
            state.conversation.append({"role": "assistant", "content": content})
            toolset_ids |= {
                block["id"]
                for block in content
                if block.get("type") == "tool_use"
                and block.get("toolset_name") == COMPUTER_TOOLSET_NAME
            }
        elif kind == "confirmation_requested":
            request = event.confirmation_requested
            asked[request.confirmation_id] = request.call.tool_use_id
        elif kind == "confirmation_resolved" and event.confirmation_resolved.approved:
            tool_use_id = asked.get(event.confirmation_resolved.confirmation_id)
            if tool_use_id:
                state.approved.add(tool_use_id)
        elif kind == "tool_result":
            block, image = await _tool_result_block(bus, event.tool_result, toolset_ids)
            _add_tool_result(state.conversation, block)
            if image is not None:
                state.last_screenshot = image
    return state


def owed_tool_uses(conversation: list[dict]) -> list[dict]:
    """tool_use blocks of the latest model turn that have no result yet, in order."""
    if not conversation:
        return []
    answered: set[str] = set()
    turn = conversation[-1]
    if turn["role"] == "user":
        answered = {b["tool_use_id"] for b in turn["content"] if b.get("type") == "tool_result"}
        if len(conversation) < 2:
            return []
        turn = conversation[-2]
    if turn["role"] != "assistant":
        return []
    return [b for b in turn["content"] if b.get("type") == "tool_use" and b["id"] not in answered]


def _add_user_text(conversation: list[dict], text: str) -> None:
    block = {"type": "text", "text": text}
    if conversation and conversation[-1]["role"] == "user":
        conversation[-1]["content"].append(block)
    else:
        conversation.append({"role": "user", "content": [block]})


def _add_tool_result(conversation: list[dict], block: dict) -> None:
    # Results of one model turn share the user message that follows it.
    if conversation and conversation[-1]["role"] == "user":
        conversation[-1]["content"].append(block)
    else:
        conversation.append({"role": "user", "content": [block]})


async def _tool_result_block(
    bus: Bus, result: events_pb2.ToolResult, toolset_ids: set[str]
) -> tuple[dict, common_pb2.Image | None]:
    content: list[dict] = []
    if result.text:
        content.append({"type": "text", "text": result.text})
    image = None
    for ref in result.images:
        data = await bus.get_object(ref.bucket or SCREENSHOTS_BUCKET, ref.name)
        image = common_pb2.Image(format=_FORMATS.get(ref.content_type, 0), data=data)
        content.append(dict(image_block(image)))
    block = {"type": "tool_result", "tool_use_id": result.tool_use_id, "content": content}
    if result.is_error:
        block["is_error"] = True
    if result.tool_use_id in toolset_ids:
        block["toolset_name"] = COMPUTER_TOOLSET_NAME
    return block, image
