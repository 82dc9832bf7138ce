"""The session commands that steer a session from outside: `cancel`, `delete`, `take`
(a person takes the desktop over; the agent waits) and `handback` (it goes on).

Each says in one line what happened and what the session is now; a session in the wrong
state for the command gets the orchestrator's reason, one line, exit code 1.
"""

from __future__ import annotations

import argparse

from deskpilot.cli.render import status_name
from deskpilot.cli.terminal import Terminal
from deskpilot.v1 import orchestrator_pb2
from deskpilot.v1.orchestrator_pb2_grpc import OrchestratorStub

pb = orchestrator_pb2


async def cancel(args: argparse.Namespace, stub: OrchestratorStub, term: Terminal) -> int:
    """Stop the session's work for good; its sandbox stays until `delete`."""
    reason = args.reason or f"cancelled by {args.user} with deskpilot cancel"
    session = (
        await stub.Cancel(pb.CancelRequest(session_id=args.session_id, reason=reason))
    ).session
    term.say(
        f"session {session.id} is {status_name(session.status)}; "
        f"`deskpilot delete {session.id}` stops its sandbox and forgets it"
    )
    return 0


async def delete(args: argparse.Namespace, stub: OrchestratorStub, term: Terminal) -> int:
    """Stop the session and its sandbox and forget it (its events too, unless kept)."""
    request = pb.DeleteSessionRequest(session_id=args.session_id, keep_history=args.keep_history)
    await stub.DeleteSession(request)
    kept = (
        f"; its events are kept: `deskpilot watch {args.session_id}` replays them"
        if args.keep_history
        else ""
    )
    term.say(f"deleted session {args.session_id}{kept}")
    return 0


async def take(args: argparse.Namespace, stub: OrchestratorStub, term: Terminal) -> int:
    """Take control of the session's desktop: the agent waits until `handback`."""
    request = pb.TakeControlRequest(session_id=args.session_id, by=args.user)
    session = (await stub.TakeControl(request)).session
    term.say(
        f"{session.controlled_by or args.user} has the desktop of session {session.id}; the "
        f"agent waits ({status_name(session.status)}). Give it back with "
        f'`deskpilot handback {session.id} --note "what you did"`'
    )
    return 0


async def handback(args: argparse.Namespace, stub: OrchestratorStub, term: Terminal) -> int:
    """Give the desktop back; the agent goes on, told the note (and to look again)."""
    request = pb.ReleaseControlRequest(session_id=args.session_id, by=args.user, note=args.note)
    session = (await stub.ReleaseControl(request)).session
    term.say(
        f"gave the desktop of session {session.id} back; it is {status_name(session.status)} "
        f"(`deskpilot watch {session.id}` follows it)"
    )
    return 0
