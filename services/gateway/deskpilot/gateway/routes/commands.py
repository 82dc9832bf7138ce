"""`/ws/api`: everything the page changes, as JSON commands over one websocket.

The websockets server parses only GET requests without a body, so changes cannot be
POSTs; a websocket suits them anyway: its upgrade carries the browser's Origin, which is
checked against the allow-list (with the token) before it opens, so a page of another
site can never send a command, and every command after that is rechecked for expiry and
revocation. Each command is `{"id": 1, "op": "take", "session": "…", …}`; each answer
`{"id": 1, "ok": true, "session": {…}}` or `{"id": 1, "ok": false, "status": 403,
"error": "…"}` with the HTTP status the same refusal would have had. Commands run one at
a time, in order.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from websockets.asyncio.server import ServerConnection

from deskpilot.gateway.app import App
from deskpilot.gateway.auth import Caller
from deskpilot.gateway.codec import to_json
from deskpilot.gateway.http import Refusal
from deskpilot.gateway.routes import Context, Route, Serve
from deskpilot.gateway.websocket import close_with, send_json, until_either_ends
from deskpilot.v1 import common_pb2, safety_pb2, session_pb2
from deskpilot.v1 import orchestrator_pb2 as pb

_DISPLAY = re.compile(r"^([0-9]{3,4})x([0-9]{3,4})$")
MAX_DOMAINS = 100

Command = Callable[[App, Caller, "Arguments"], Awaitable[dict[str, Any]]]


class Arguments:
    """A command's fields, each checked for its type: 400 naming the field otherwise."""

    def __init__(self, message: dict[str, Any]) -> None:
        self.message = message

    def text(self, name: str, *, required: bool = False, default: str = "") -> str:
        value = self.message.get(name, default)
        if not isinstance(value, str):
            raise Refusal(400, f"{name} must be a string")
        if required and not value.strip():
            raise Refusal(400, f"{name} is required")
        return value

    def flag(self, name: str, *, default: bool = False) -> bool:
        value = self.message.get(name, default)
        if not isinstance(value, bool):
            raise Refusal(400, f"{name} must be true or false")
        return value

    def texts(self, name: str) -> list[str]:
        value = self.message.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise Refusal(400, f"{name} must be a list of strings")
        if len(value) > MAX_DOMAINS:
            raise Refusal(400, f"{name} may hold at most {MAX_DOMAINS} entries")
        return [v.strip() for v in value if v.strip()]

    def session(self, caller: Caller) -> str:
        from deskpilot.bus import check_session_id

        session_id = self.text("session", required=True)
        try:
            check_session_id(session_id)
        except ValueError as exc:
            raise Refusal(400, str(exc)) from None
        scope = caller.identity.session_id
        if scope and scope != session_id:
            raise Refusal(
                403, f"the token of {caller.identity.describe()} does not reach session "
                f"{session_id}",
            )  # fmt: skip
        return session_id


def session_config(args: Arguments) -> session_pb2.SessionConfig:
    """The start form's fields as a SessionConfig."""
    config = session_pb2.SessionConfig(
        task=args.text("task", required=True), model=args.text("model").strip()
    )
    tool_set = args.text("tool_set").strip()
    if tool_set:
        names = list(session_pb2.ToolSet.keys())
        if tool_set not in names:
            allowed = ", ".join(names[1:])
            raise Refusal(400, f"tool_set must be one of {allowed} (got {tool_set!r})")
        config.tool_set = session_pb2.ToolSet.Value(tool_set)
    display = args.text("display").strip()
    if display:
        found = _DISPLAY.match(display)
        if found is None:
            raise Refusal(400, f"display must be WIDTHxHEIGHT, e.g. 1280x800 (got {display!r})")
        config.display.CopyFrom(common_pb2.Size(width=int(found[1]), height=int(found[2])))
    domains = args.texts("allowed_domains")
    if domains:
        config.safety_policy.CopyFrom(safety_pb2.SafetyPolicy(allowed_domains=domains))
    return config


async def _create(app: App, caller: Caller, args: Arguments) -> dict[str, Any]:
    config = session_config(args)
    request = pb.CreateSessionRequest(config=config, request_id=args.text("request_id"))
    reply = await app.orchestrator.call(caller, "CreateSession", request)
    return {"session": to_json(reply.session)}  # type: ignore[attr-defined]


async def _send(app: App, caller: Caller, args: Arguments) -> dict[str, Any]:
    request = pb.SendMessageRequest(
        session_id=args.session(caller), text=args.text("text", required=True)
    )
    reply = await app.orchestrator.call(caller, "SendMessage", request)
    return {"session": to_json(reply.session)}  # type: ignore[attr-defined]


async def _resolve(app: App, caller: Caller, args: Arguments) -> dict[str, Any]:
    request = pb.ResolveConfirmationRequest(
        session_id=args.session(caller),
        confirmation_id=args.text("confirmation_id", required=True),
        approve=args.flag("approve"),
        reason=args.text("reason"),
    )
    reply = await app.orchestrator.call(caller, "ResolveConfirmation", request)
    return {"session": to_json(reply.session)}  # type: ignore[attr-defined]


async def _take(app: App, caller: Caller, args: Arguments) -> dict[str, Any]:
    session_id = args.session(caller)
    request = pb.TakeControlRequest(session_id=session_id)
    reply = await app.orchestrator.call(caller, "TakeControl", request)
    # This person's input reaches the desktop at once (the follower confirms it later).
    await app.desktops.set_controller(session_id, caller.identity.subject)
    return {"session": to_json(reply.session)}  # type: ignore[attr-defined]


async def _release(app: App, caller: Caller, args: Arguments) -> dict[str, Any]:
    session_id = args.session(caller)
    request = pb.ReleaseControlRequest(session_id=session_id, note=args.text("note"))
    await app.desktops.set_controller(session_id, None)  # nobody's, as the agent resumes
    try:
        reply = await app.orchestrator.call(caller, "ReleaseControl", request)
    except Refusal:  # still theirs as far as the orchestrator knows
        session = await app.orchestrator.get_session(caller, session_id)
        await app.desktops.set_controller(session_id, session.controlled_by or None)
        raise
    return {"session": to_json(reply.session)}  # type: ignore[attr-defined]


async def _cancel(app: App, caller: Caller, args: Arguments) -> dict[str, Any]:
    request = pb.CancelRequest(session_id=args.session(caller), reason=args.text("reason"))
    reply = await app.orchestrator.call(caller, "Cancel", request)
    return {"session": to_json(reply.session)}  # type: ignore[attr-defined]


async def _delete(app: App, caller: Caller, args: Arguments) -> dict[str, Any]:
    request = pb.DeleteSessionRequest(
        session_id=args.session(caller), keep_history=args.flag("keep_history", default=True)
    )
    await app.orchestrator.call(caller, "DeleteSession", request)
    return {"deleted": request.session_id}


COMMANDS: dict[str, Command] = {
    "create": _create,
    "send": _send,
    "resolve": _resolve,
    "take": _take,
    "release": _release,
    "cancel": _cancel,
    "delete": _delete,
}


async def run_command(app: App, caller: Caller, raw: str | bytes) -> dict[str, Any]:
    """One command's answer (never raises for the command's own faults)."""
    command_id: Any = None
    try:
        try:
            message = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise Refusal(400, f"a command must be a JSON object: {exc}") from None
        if not isinstance(message, dict):
            raise Refusal(400, "a command must be a JSON object")
        command_id = message.get("id")
        op = message.get("op")
        command = COMMANDS.get(op) if isinstance(op, str) else None
        if command is None:
            raise Refusal(400, f"op must be one of {', '.join(COMMANDS)} (got {op!r})")
        app.gatekeeper.recheck(caller)
        if not caller.may_steer:
            raise Refusal(403, f"{caller.identity.describe()} may only watch, not {op}")
        result = await command(app, caller, Arguments(message))
    except Refusal as refusal:
        return {"id": command_id, "ok": False, "status": refusal.status, "error": refusal.reason}
    return {"id": command_id, "ok": True, **result}


async def commands(ctx: Context) -> Serve:
    gate = ctx.app.gatekeeper
    gate.check_origin(ctx.request.headers)
    caller = gate.caller(ctx.request.headers)
    app = ctx.app

    async def serve(connection: ServerConnection) -> None:
        async def answer() -> None:
            async for raw in connection:
                reply = await run_command(app, caller, raw)
                await send_json(connection, reply)
                if reply.get("status") == 401:  # expired or revoked: nothing more will pass
                    await close_with(connection, 4401, reply["error"])
                    return

        await until_either_ends(connection, answer)

    return serve


ROUTES = [Route("commands", r"/ws/api", websocket=commands)]
