"""The HTTP server: `POST /v1/messages` (plain and streamed), `POST /v1/messages/count_tokens`,
`GET /health`, and the API's error shapes for everything else.

Every response carries `x-deskpilot-stand-in: true`: this is a scripted stand-in, not
Anthropic's API, and says so.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from deskpilot.standin.errors import ApiError, InvalidRequest
from deskpilot.standin.responses import (
    failed_stream_events,
    message_json,
    new_id,
    resolve_blocks,
    sse,
    stream_events,
)
from deskpilot.standin.script import Script, Turn, TurnLike
from deskpilot.standin.tokens import (
    DEFAULT_MIN_CACHEABLE_TOKENS,
    InputUsage,
    PromptCache,
    count_input_tokens,
    prompt_segments,
)
from deskpilot.standin.validation import CheckedRequest, check_request

log = logging.getLogger("deskpilot.standin")

STAND_IN_HEADER = "x-deskpilot-stand-in"
BANNER = "Messages API STAND-IN (scripted; not Anthropic's API)"
# The anthropic SDK numbers its retries of a request (0 on the first attempt).
RETRY_COUNT_HEADER = "x-stainless-retry-count"
MAX_REQUEST_BYTES = 32 * 1024 * 1024  # the real API's request size limit


@dataclass
class RecordedRequest:
    """One request the server received, for assertions in tests and benchmarks.

    `body` is the parsed JSON with each image's base64 data replaced by a short
    placeholder (a long conversation's screenshots would otherwise pile up in memory).
    """

    method: str
    path: str
    headers: dict[str, str]
    body: Any = None
    status: int = 0
    error: str | None = None
    betas: frozenset[str] = frozenset()
    stream: bool = False
    tool_types: list[str] = field(default_factory=list)
    image_count: int = 0
    image_sizes: list[tuple[int, int]] = field(default_factory=list)
    cache_breakpoints: int = 0
    usage: InputUsage | None = None
    response: dict[str, Any] | None = None

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The request's `messages` (empty when the body was not a JSON object)."""
        return self.body.get("messages", []) if isinstance(self.body, dict) else []


class StandInServer:
    """A scripted Messages API stand-in on a loopback port.

    Use as `async with StandInServer(script) as server:` and point the SDK at
    `server.base_url`, or call `await start()` / `await stop()`.
    """

    def __init__(
        self,
        script: Script | Iterable[TurnLike] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        min_cacheable_tokens: int = DEFAULT_MIN_CACHEABLE_TOKENS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.script = script if isinstance(script, Script) else Script(script or ())
        self.host = host
        self.port = port
        self.cache = PromptCache(min_cacheable_tokens=min_cacheable_tokens, clock=clock)
        self.requests: list[RecordedRequest] = []
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        """The URL to pass as the SDK's `base_url` (valid once started)."""
        if self._runner is None:
            raise RuntimeError("the stand-in server is not running")
        return f"http://{self.host}:{self.port}"

    @property
    def message_requests(self) -> list[RecordedRequest]:
        """The `POST /v1/messages` requests received, in order."""
        return [r for r in self.requests if r.path == "/v1/messages"]

    async def start(self) -> str:
        """Listen on the configured (or a free) port; returns the base URL."""
        app = web.Application(client_max_size=MAX_REQUEST_BYTES)
        app.router.add_post("/v1/messages", self._create)
        app.router.add_post("/v1/messages/count_tokens", self._count_tokens)
        app.router.add_get("/health", self._health)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        app.on_response_prepare.append(_label_response)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self._runner = runner
        self.port = runner.addresses[0][1]
        log.warning("%s listening on %s", BANNER, self.base_url)
        return self.base_url

    async def stop(self) -> None:
        """Stop listening and close open connections."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> StandInServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "stand_in": True, "banner": BANNER})

    async def _not_found(self, request: web.Request) -> web.Response:
        record = self._record(request)
        return _error_response(record, ApiError(404, "not_found_error", "Not Found"))

    async def _count_tokens(self, request: web.Request) -> web.StreamResponse:
        record = self._record(request)
        try:
            checked = await self._checked(request, record, count_only=True)
        except ApiError as error:
            return _error_response(record, error)
        record.status = 200
        record.response = {"input_tokens": count_input_tokens(checked)}
        record.body = _without_image_data(record.body)
        return web.json_response(record.response)

    async def _create(self, request: web.Request) -> web.StreamResponse:
        record = self._record(request)
        try:
            checked = await self._checked(request, record, count_only=False)
            turn = await self._next_turn(checked.body, _retries_taken(request))
        except ApiError as error:
            return _error_response(record, error)
        if turn.error is not None:
            headers = {}
            if turn.error.retry_after is not None:
                headers["retry-after"] = f"{turn.error.retry_after:g}"
            error = ApiError(turn.error.status, turn.error.error_type, turn.error.text, headers)
            if turn.error.in_stream and checked.stream:
                return await self._failed_stream(request, record, checked, error)
            return _error_response(record, error)
        usage = self.cache.account(checked.model, prompt_segments(checked))
        blocks = resolve_blocks(turn, checked.tools)
        undeclared = [
            b["name"]
            for b in blocks
            if b["type"] == "tool_use"
            and b["name"] not in checked.tools.names | checked.tools.toolset_members
        ]
        if undeclared:
            log.warning("scripted tool_use names tools the request did not declare: %s", undeclared)
        message_id = new_id("msg")
        stop_reason = turn.resolved_stop_reason
        record.usage = usage
        record.status = 200
        record.response = message_json(message_id, checked.model, blocks, stop_reason, usage)
        record.body = _without_image_data(record.body)
        if not checked.stream:
            return web.json_response(record.response)
        events = stream_events(message_id, checked.model, blocks, stop_reason, usage)
        return await _send_stream(request, events)

    async def _failed_stream(
        self,
        request: web.Request,
        record: RecordedRequest,
        checked: CheckedRequest,
        error: ApiError,
    ) -> web.StreamResponse:
        """HTTP 200 and message_start, then an `error` event: a failure mid-answer."""
        usage = self.cache.account(checked.model, prompt_segments(checked), write=False)
        request_id = new_id("req")
        record.status, record.error, record.usage = 200, error.message, usage
        record.body = _without_image_data(record.body)
        log.info("%s %s -> 200 then stream error %s", record.method, record.path, error.message)
        events = failed_stream_events(new_id("msg"), checked.model, usage, error.body(request_id))
        return await _send_stream(request, events)

    def _record(self, request: web.Request) -> RecordedRequest:
        record = RecordedRequest(request.method, request.path, dict(request.headers))
        self.requests.append(record)
        return record

    async def _checked(
        self, request: web.Request, record: RecordedRequest, *, count_only: bool
    ) -> CheckedRequest:
        """Authenticate, parse and validate a request, filling in its record."""
        if not (request.headers.get("x-api-key") or request.headers.get("authorization")):
            raise ApiError(401, "authentication_error", "x-api-key header is required")
        if not request.headers.get("anthropic-version"):
            raise InvalidRequest("anthropic-version: header is required")
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise ApiError(
                413,
                "request_too_large",
                f"Request exceeds the maximum size ({MAX_REQUEST_BYTES} bytes)",
            ) from None
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InvalidRequest(
                f"There was an error parsing the body of your request: {exc}"
            ) from None
        record.body = body
        betas = frozenset(
            b.strip() for b in request.headers.get("anthropic-beta", "").split(",") if b.strip()
        )
        record.betas = betas
        checked = check_request(body, betas, count_only=count_only)
        record.stream = checked.stream
        record.tool_types = checked.tool_types
        record.image_count = len(checked.images)
        record.image_sizes = [(i.width, i.height) for i in checked.images]
        record.cache_breakpoints = checked.cache_breakpoints
        return checked

    async def _next_turn(self, body: dict[str, Any], retries: int | None) -> Turn:
        try:
            return await self.script.next_turn(body, retries)
        except Exception as exc:
            log.exception("the script's responder failed")
            # Not retryable: a broken test script should fail the test, not loop.
            raise ApiError(
                500,
                "api_error",
                f"stand-in script responder raised {exc!r}",
                {"x-should-retry": "false"},
            ) from exc


def _retries_taken(request: web.Request) -> int | None:
    """How often the SDK says it has retried this request (None: it does not say)."""
    value = request.headers.get(RETRY_COUNT_HEADER, "")
    return int(value) if value.isdigit() else None


def _error_response(record: RecordedRequest, error: ApiError) -> web.Response:
    request_id = new_id("req")
    record.body = _without_image_data(record.body)
    record.status = error.status
    record.error = error.message
    log.info("%s %s -> %d %s", record.method, record.path, error.status, error.message)
    return web.json_response(
        error.body(request_id),
        status=error.status,
        headers={"request-id": request_id, **error.headers},
    )


async def _send_stream(
    request: web.Request, events: Iterable[tuple[str, dict[str, Any]]]
) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={"content-type": "text/event-stream", "cache-control": "no-cache"}
    )
    await response.prepare(request)
    for event, data in events:
        await response.write(sse(event, data))
    await response.write_eof()
    return response


def _without_image_data(node: Any) -> Any:
    """A copy of a request body with each image's base64 data replaced by a placeholder
    (the body the script's responder saw is left as it was)."""
    if isinstance(node, list):
        return [_without_image_data(item) for item in node]
    if not isinstance(node, dict):
        return node
    copy = {key: _without_image_data(value) for key, value in node.items()}
    source = copy.get("source")
    if copy.get("type") == "image" and isinstance(source, dict):
        data = source.get("data")
        if isinstance(data, str):
            source["data"] = f"<{len(data)} base64 characters>"
    return copy


async def _label_response(request: web.Request, response: web.StreamResponse) -> None:
    response.headers[STAND_IN_HEADER] = "true"
    response.headers.setdefault("request-id", new_id("req"))
