"""Request validation: the rules the real Messages API enforces, with its error messages
where they are known.

Every rule raises `InvalidRequest` (HTTP 400, `invalid_request_error`) naming the field
path the way the API does (`messages.2.content.0.tool_use_id`), so the caller can act.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from anthropic.types import beta as sdk
from anthropic.types.beta import message_create_params

from deskpilot.standin.errors import InvalidRequest
from deskpilot.standin.images import ImageInfo, check_image, check_image_count
from deskpilot.standin.signatures import signature_matches
from deskpilot.standin.tools import CheckedTools, check_tools, typed_dict_fields

MAX_CACHE_BREAKPOINTS = 4
MIN_THINKING_BUDGET = 1024
_CREATE_FIELDS = (
    typed_dict_fields(message_create_params.MessageCreateParamsStreaming)[1]
    # Sampling settings older SDKs still send.
    | {"temperature", "top_k", "top_p"}
) - {"betas"}
_COUNT_FIELDS = frozenset(
    {"model", "messages", "system", "tools", "tool_choice", "thinking", "cache_control"}
    | {"context_management", "mcp_servers", "output_config", "speed"}
)
_USER_BLOCKS = ("text", "image", "tool_result", "document")
_ASSISTANT_BLOCKS = ("text", "thinking", "redacted_thinking", "tool_use")
_TOOL_RESULT_CONTENT_BLOCKS = ("text", "image", "document")
# The fields each content block may have, from the SDK's request types: the API rejects
# others (e.g. `parsed_output` of a streamed message's blocks sent back as they are).
_BLOCK_FIELDS = {
    kind: typed_dict_fields(param)[1]
    for kind, param in {
        "text": sdk.BetaTextBlockParam,
        "image": sdk.BetaImageBlockParam,
        "tool_use": sdk.BetaToolUseBlockParam,
        "tool_result": sdk.BetaToolResultBlockParam,
        "thinking": sdk.BetaThinkingBlockParam,
        "redacted_thinking": sdk.BetaRedactedThinkingBlockParam,
    }.items()
}
_TOOL_USE_ID = re.compile(r"^[a-zA-Z0-9_-]+$")
_THINKING_DOCS = "https://docs.claude.com/en/docs/build-with-claude/extended-thinking"


@dataclass
class CheckedRequest:
    """A request that passed every rule, with what the counters and the log need."""

    body: dict[str, Any]
    model: str
    max_tokens: int | None
    stream: bool
    betas: frozenset[str]
    tools: CheckedTools
    thinking_enabled: bool
    images: list[ImageInfo] = field(default_factory=list)
    # id() of each image block → its validated size, so counting needn't decode again.
    image_by_block: dict[int, ImageInfo] = field(default_factory=dict)
    cache_breakpoints: int = 0

    @property
    def tool_types(self) -> list[str]:
        """The `type` of every tools[] entry, `custom` for plain tools."""
        return [t.get("type") or "custom" for t in self.body.get("tools") or []]


def check_request(body: Any, betas: frozenset[str], *, count_only: bool = False) -> CheckedRequest:
    """Validate a `POST /v1/messages` body (or a count_tokens body) and describe it."""
    if not isinstance(body, dict):
        raise InvalidRequest("body: Input should be a valid dictionary")
    allowed = _COUNT_FIELDS if count_only else _CREATE_FIELDS
    for name in sorted(body.keys() - allowed):
        raise InvalidRequest(f"{name}: Extra inputs are not permitted")
    required = ("model", "messages") if count_only else ("model", "max_tokens", "messages")
    for name in required:
        if name not in body:
            raise InvalidRequest(f"{name}: Field required")
    model = body["model"]
    if not isinstance(model, str) or not model:
        raise InvalidRequest("model: Input should be a non-empty string")
    max_tokens = body.get("max_tokens")
    if not count_only and not (_is_int(max_tokens) and max_tokens >= 1):
        raise InvalidRequest("max_tokens: Input should be an integer greater than or equal to 1")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise InvalidRequest("stream: Input should be a valid boolean")

    tools = (
        check_tools(body["tools"], betas)
        if "tools" in body
        else CheckedTools(frozenset(), frozenset(), [])
    )
    checked = CheckedRequest(
        body=body,
        model=model,
        max_tokens=max_tokens,
        stream=stream,
        betas=betas,
        tools=tools,
        thinking_enabled=_check_thinking(body.get("thinking"), max_tokens, count_only),
    )
    _check_tool_choice(body.get("tool_choice"), tools, checked.thinking_enabled)
    if checked.thinking_enabled and body.get("temperature", 1) != 1:
        raise InvalidRequest(
            "`temperature` may only be set to 1 when thinking is enabled. Please consult our "
            f"documentation at {_THINKING_DOCS}"
        )
    breakpoints = [
        _check_cache_control(t, f"tools.{i}") for i, t in enumerate(body.get("tools") or [])
    ]
    breakpoints += _check_system(body.get("system"))
    breakpoints.append(
        _check_cache_control(body, "cache_control") if "cache_control" in body else False
    )
    breakpoints += _MessagesChecker(checked).run(body["messages"])
    checked.cache_breakpoints = sum(breakpoints)
    if checked.cache_breakpoints > MAX_CACHE_BREAKPOINTS:
        raise InvalidRequest(
            f"A maximum of {MAX_CACHE_BREAKPOINTS} blocks with cache_control may be provided. "
            f"Found {checked.cache_breakpoints}."
        )
    check_image_count(checked.images)
    return checked


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_thinking(thinking: Any, max_tokens: int | None, count_only: bool) -> bool:
    """Validate `thinking`; True when extended thinking is on."""
    if thinking is None:
        return False
    if not isinstance(thinking, dict):
        raise InvalidRequest("thinking: Input should be a valid dictionary")
    kind = thinking.get("type")
    if kind in ("disabled", "adaptive"):
        return kind == "adaptive"
    if kind != "enabled":
        raise InvalidRequest(
            f"thinking.type: Input should be 'enabled', 'disabled' or 'adaptive' (got {kind!r})"
        )
    budget = thinking.get("budget_tokens")
    if budget is None:
        raise InvalidRequest("thinking.enabled.budget_tokens: Field required")
    if not _is_int(budget) or budget < MIN_THINKING_BUDGET:
        raise InvalidRequest(
            "thinking.enabled.budget_tokens: Input should be greater than or equal to "
            f"{MIN_THINKING_BUDGET}"
        )
    if not count_only and max_tokens is not None and budget >= max_tokens:
        raise InvalidRequest(
            f"`max_tokens` must be greater than `thinking.budget_tokens` "
            f"(max_tokens={max_tokens}, budget_tokens={budget}). Please consult our "
            f"documentation at {_THINKING_DOCS}#max-tokens-and-context-window-size"
        )
    return True


def _check_tool_choice(choice: Any, tools: CheckedTools, thinking_enabled: bool) -> None:
    if choice is None:
        return
    kinds = ("auto", "any", "tool", "none")
    if not isinstance(choice, dict) or choice.get("type") not in kinds:
        raise InvalidRequest("tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'")
    kind = choice["type"]
    allowed = {"type", "disable_parallel_tool_use"} | ({"name"} if kind == "tool" else set())
    for name in sorted(choice.keys() - allowed):
        raise InvalidRequest(f"tool_choice.{kind}.{name}: Extra inputs are not permitted")
    if kind == "tool":
        name = choice.get("name")
        if not isinstance(name, str):
            raise InvalidRequest("tool_choice.tool.name: Field required")
        if name not in tools.names | tools.toolset_members:
            raise InvalidRequest(
                f"tool_choice.tool.name: tool {name!r} is not among the request's tools"
            )
    if thinking_enabled and kind in ("any", "tool"):
        raise InvalidRequest("Thinking may not be enabled when tool_choice forces tool use.")


def _check_cache_control(holder: dict[str, Any], where: str) -> bool:
    """Validate a block's `cache_control`; True when it sets a breakpoint."""
    control = holder.get("cache_control")
    if control is None:
        return False
    at = where if where == "cache_control" else f"{where}.cache_control"
    if not isinstance(control, dict) or control.get("type") != "ephemeral":
        raise InvalidRequest(f"{at}.type: Input should be 'ephemeral'")
    for name in sorted(control.keys() - {"type", "ttl"}):
        raise InvalidRequest(f"{at}.ephemeral.{name}: Extra inputs are not permitted")
    if control.get("ttl", "5m") not in ("5m", "1h"):
        raise InvalidRequest(f"{at}.ephemeral.ttl: Input should be '5m' or '1h'")
    return True


def _check_system(system: Any) -> list[bool]:
    if system is None or isinstance(system, str):
        return []
    if not isinstance(system, list):
        raise InvalidRequest("system: Input should be a valid string or a list of text blocks")
    breakpoints = []
    for index, block in enumerate(system):
        where = f"system.{index}"
        if not isinstance(block, dict) or block.get("type") != "text":
            raise InvalidRequest(f"{where}.type: Input should be 'text'")
        _check_text(block, where)
        breakpoints.append(_check_cache_control(block, where))
    return breakpoints


def _check_text(block: dict[str, Any], where: str) -> None:
    text = block.get("text")
    if not isinstance(text, str):
        raise InvalidRequest(f"{where}.text: Field required")
    if not text:
        raise InvalidRequest(f"{where}.text: text content blocks must be non-empty")


class _MessagesChecker:
    """Walks `messages` once: roles, blocks, tool_use/tool_result pairing, images."""

    def __init__(self, checked: CheckedRequest) -> None:
        self.checked = checked
        self.breakpoints: list[bool] = []
        self.uses_tools = False

    def run(self, messages: Any) -> list[bool]:
        if not isinstance(messages, list):
            raise InvalidRequest("messages: Input should be a valid list")
        if not messages:
            raise InvalidRequest("messages: at least one message is required")
        pending: list[str] = []  # tool_use ids of the previous assistant message
        for index, message in enumerate(messages):
            blocks = self._message_blocks(message, index, last=index == len(messages) - 1)
            role = message["role"]
            if index == 0 and role != "user":
                raise InvalidRequest('messages: first message must use the "user" role')
            if index > 0 and role == messages[index - 1]["role"]:
                raise InvalidRequest(
                    'messages: roles must alternate between "user" and "assistant", '
                    f'but found multiple "{role}" roles in a row (messages.{index - 1} and '
                    f"messages.{index})"
                )
            if role == "user":
                self._check_tool_results(blocks, index, pending)
                pending = []
            else:
                pending = [b["id"] for b in blocks if b.get("type") == "tool_use"]
        if pending:
            raise _unanswered(len(messages) - 1, pending)
        if self.uses_tools and not self.checked.tools.names:
            raise InvalidRequest(
                "Requests which include `tool_use` or `tool_result` blocks must define tools."
            )
        if self.checked.thinking_enabled:
            _check_thinking_kept(messages)
        return self.breakpoints

    def _message_blocks(self, message: Any, index: int, *, last: bool) -> list[dict[str, Any]]:
        where = f"messages.{index}"
        if not isinstance(message, dict):
            raise InvalidRequest(f"{where}: Input should be a valid dictionary")
        for name in sorted(message.keys() - {"role", "content"}):
            raise InvalidRequest(f"{where}.{name}: Extra inputs are not permitted")
        role = message.get("role")
        if role not in ("user", "assistant"):
            raise InvalidRequest(f"{where}.role: Input should be 'user' or 'assistant'")
        content = message.get("content")
        final_assistant = last and role == "assistant"
        if isinstance(content, str):
            if not content and not final_assistant:
                raise _empty_content(index)
            return [{"type": "text", "text": content}] if content else []
        if not isinstance(content, list):
            raise InvalidRequest(f"{where}.content: Input should be a valid string or list")
        if not content and not final_assistant:
            raise _empty_content(index)
        allowed = _USER_BLOCKS if role == "user" else _ASSISTANT_BLOCKS
        for position, block in enumerate(content):
            self._check_block(block, f"{where}.content.{position}", allowed)
        return content

    def _check_block(self, block: Any, where: str, allowed: tuple[str, ...]) -> None:
        if not isinstance(block, dict):
            raise InvalidRequest(f"{where}: Input should be a valid dictionary")
        kind = block.get("type")
        if kind not in allowed:
            tags = ", ".join(repr(t) for t in allowed)
            raise InvalidRequest(
                f"{where}: Input tag {kind!r} found using 'type' does not match any of the "
                f"expected tags: {tags}"
            )
        for name in sorted(block.keys() - _BLOCK_FIELDS.get(kind, block.keys())):
            raise InvalidRequest(f"{where}.{kind}.{name}: Extra inputs are not permitted")
        self.breakpoints.append(_check_cache_control(block, where))
        if kind == "text":
            _check_text(block, where)
        elif kind == "image":
            self._add_image(block, where)
        elif kind == "tool_result":
            self._check_tool_result(block, where)
        elif kind == "tool_use":
            self._check_tool_use(block, where)
        elif kind == "thinking":
            _check_thinking_block(block, where)
        elif kind == "redacted_thinking" and not isinstance(block.get("data"), str):
            raise InvalidRequest(f"{where}.data: Field required")

    def _add_image(self, block: dict[str, Any], where: str) -> None:
        info = check_image(block, where)
        self.checked.images.append(info)
        self.checked.image_by_block[id(block)] = info

    def _check_tool_use(self, block: dict[str, Any], where: str) -> None:
        self.uses_tools = True
        block_id = block.get("id")
        if not isinstance(block_id, str) or not _TOOL_USE_ID.match(block_id):
            raise InvalidRequest(f"{where}.id: String should match pattern '^[a-zA-Z0-9_-]+$'")
        if not isinstance(block.get("name"), str) or not block["name"]:
            raise InvalidRequest(f"{where}.name: Field required")
        if not isinstance(block.get("input"), dict):
            raise InvalidRequest(f"{where}.input: Input should be a valid dictionary")

    def _check_tool_result(self, block: dict[str, Any], where: str) -> None:
        self.uses_tools = True
        if not isinstance(block.get("tool_use_id"), str):
            raise InvalidRequest(f"{where}.tool_use_id: Field required")
        if "is_error" in block and not isinstance(block["is_error"], bool):
            raise InvalidRequest(f"{where}.is_error: Input should be a valid boolean")
        content = block.get("content")
        if content is None or isinstance(content, str):
            return
        if not isinstance(content, list):
            raise InvalidRequest(f"{where}.content: Input should be a valid string or list")
        for position, inner in enumerate(content):
            self._check_block(inner, f"{where}.content.{position}", _TOOL_RESULT_CONTENT_BLOCKS)

    def _check_tool_results(
        self, blocks: list[dict[str, Any]], index: int, pending: list[str]
    ) -> None:
        """The user message after tool_use answers each id, tool_result blocks first."""
        results = [b for b in blocks if b.get("type") == "tool_result"]
        leading = 0
        while leading < len(blocks) and blocks[leading].get("type") == "tool_result":
            leading += 1
        if leading < len(results):
            late = next(
                i for i in range(leading, len(blocks)) if blocks[i].get("type") == "tool_result"
            )
            raise InvalidRequest(
                f"messages.{index}.content.{late}: `tool_result` blocks must come "
                f"before any other content in a user message (found a "
                f"{blocks[leading].get('type')!r} block before a `tool_result` block)"
            )
        answered = [b["tool_use_id"] for b in results]
        unexpected = [i for i in answered if i not in pending]
        if unexpected:
            position = answered.index(unexpected[0])
            raise InvalidRequest(
                f"messages.{index}.content.{position}: unexpected `tool_use_id` found in "
                f"`tool_result` blocks: {', '.join(unexpected)}. Each `tool_result` block "
                "must have a corresponding `tool_use` block in the previous message."
            )
        duplicates = sorted({i for i in answered if answered.count(i) > 1})
        if duplicates:
            raise InvalidRequest(
                f"messages.{index}: each `tool_use` id may be answered once; found more than "
                f"one `tool_result` for: {', '.join(duplicates)}"
            )
        missing = [i for i in pending if i not in answered]
        if missing:
            raise _unanswered(index - 1, missing)


def _unanswered(index: int, ids: list[str]) -> InvalidRequest:
    return InvalidRequest(
        f"messages.{index}: `tool_use` ids were found without `tool_result` blocks "
        f"immediately after: {', '.join(ids)}. Each `tool_use` block must have a "
        "corresponding `tool_result` block in the next message."
    )


def _empty_content(index: int) -> InvalidRequest:
    return InvalidRequest(
        f"messages.{index}: all messages must have non-empty content except for the "
        "optional final assistant message"
    )


def _check_thinking_block(block: dict[str, Any], where: str) -> None:
    thinking, signature = block.get("thinking"), block.get("signature")
    if not isinstance(thinking, str):
        raise InvalidRequest(f"{where}.thinking: Field required")
    if not isinstance(signature, str):
        raise InvalidRequest(f"{where}.signature: Field required")
    if not signature_matches(thinking, signature):
        raise InvalidRequest(f"{where}: Invalid `signature` in `thinking` block")


def _check_thinking_kept(messages: list[dict[str, Any]]) -> None:
    """With thinking on, a tool loop in progress must keep its assistant thinking block.

    The API checks the last assistant message before the final set of tool results: when
    the conversation continues a tool loop, that message must start with a thinking block.
    """
    last = messages[-1]
    if last["role"] != "user" or not _has_tool_result(last["content"]):
        return
    index = len(messages) - 2
    content = messages[index]["content"]
    first = content[0] if isinstance(content, list) and content else {"type": "text"}
    if first.get("type") not in ("thinking", "redacted_thinking"):
        raise InvalidRequest(
            f"messages.{index}.content.0.type: Expected `thinking` or `redacted_thinking`, but "
            f"found `{first.get('type')}`. When `thinking` is enabled, a final `assistant` "
            "message must start with a thinking block (preceeding the lastmost set of "
            "`tool_use` and `tool_result` blocks). We recommend you include thinking blocks "
            "from previous turns. To avoid this requirement, disable `thinking`. Please "
            f"consult our documentation at {_THINKING_DOCS}"
        )


def _has_tool_result(content: Any) -> bool:
    return isinstance(content, list) and any(
        isinstance(b, dict) and b.get("type") == "tool_result" for b in content
    )
