"""Parsing and running the session commands (`run`, `watch`, `sessions`, `approve`,
`deny`) on this process's terminal; `deskpilot.cli.commands` does the work."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys

from deskpilot.cli import commands as commands_mod
from deskpilot.cli.prompt import LineReader
from deskpilot.cli.settings import CliSettings
from deskpilot.common.config import SettingsError, load_settings


def add_session_parsers(commands: argparse._SubParsersAction) -> None:
    """`run`, `watch`, `sessions`, `approve`, `deny`: they talk to an orchestrator."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--orchestrator",
        metavar="HOST:PORT",
        help="orchestrator gRPC address (default 127.0.0.1:50051; DESKPILOT_CLI_ORCHESTRATOR)",
    )
    common.add_argument(
        "--user", help="name recorded on approvals and denials (default: your login)"
    )
    run = commands.add_parser(
        "run", parents=[common], help="start a session and show it live; Ctrl-C cancels it"
    )
    run.add_argument("task", help="what Claude should do")
    run.add_argument("--model", help="model id (default: the orchestrator's)")
    run.add_argument("--display", metavar="WxH", help="desktop size, e.g. 1280x800")
    run.add_argument("--tool-set", choices=sorted(commands_mod.TOOL_SETS), help="tool versions")
    run.add_argument("--max-steps", type=int, help="most model turns")
    run.add_argument("--max-tokens", type=int, help="most tokens over the session")
    run.add_argument("--max-wall-seconds", type=int, help="most seconds of wall-clock time")
    run.add_argument("--max-output-tokens", type=int, help="most output tokens per turn")
    run.add_argument("--thinking-budget", type=int, help="extended thinking tokens (>= 1024)")
    run.add_argument("--system-suffix", help="text appended to the system prompt")
    run.add_argument(
        "--allow-domain", action="append", metavar="DOMAIN", help="allow a domain (repeatable)"
    )
    run.add_argument("--keep-screenshots", type=int, help="screenshots kept in the conversation")
    watch = commands.add_parser(
        "watch", parents=[common], help="replay a session, then follow it live"
    )
    watch.add_argument("session_id", metavar="ID")
    watch.add_argument("--no-follow", action="store_true", help="stop after the replay")
    sessions = commands.add_parser("sessions", parents=[common], help="list sessions")
    sessions.add_argument(
        "--status", action="append", choices=sorted(commands_mod.STATUSES), help="(repeatable)"
    )
    sessions.add_argument("--limit", type=int, default=50, help="most sessions shown")
    approve = commands.add_parser(
        "approve", parents=[common], help="approve the action a session waits on"
    )
    approve.add_argument("session_id", metavar="ID")
    deny = commands.add_parser("deny", parents=[common], help="deny the action a session waits on")
    deny.add_argument("session_id", metavar="ID")
    deny.add_argument("--reason", default="", help="why (passed to the model)")


SESSION_COMMANDS: dict[str, commands_mod.Command] = {
    "run": commands_mod.run,
    "watch": commands_mod.watch,
    "sessions": commands_mod.sessions,
    "approve": commands_mod.resolver(approve=True),
    "deny": commands_mod.resolver(approve=False),
}


def session_command(args: argparse.Namespace) -> int:
    """Run one session command on this process's terminal."""
    overrides = {k: v for k in ("orchestrator", "user") if (v := getattr(args, k))}
    try:
        settings = load_settings(CliSettings, None, **overrides)
    except SettingsError as exc:
        print(f"deskpilot {args.command}: {exc}", file=sys.stderr)
        return 2
    args.user = settings.decider

    async def main_task() -> int:
        term = _own_terminal()
        # Ctrl-C: `run` cancels the session, `watch` stops watching.
        asyncio.get_running_loop().add_signal_handler(signal.SIGINT, term.interrupted.set)
        command = SESSION_COMMANDS[args.command]
        return await commands_mod.execute(args.command, command, args, settings, term)

    return asyncio.run(main_task())


def _own_terminal() -> commands_mod.Terminal:
    reader = _stdin_reader()
    return commands_mod.Terminal(
        out=sys.stdout,
        err=sys.stderr,
        input=reader,
        interactive=reader is not None and reader.echoes and sys.stdout.isatty(),
        colour=sys.stdout.isatty() and "NO_COLOR" not in os.environ,
    )


def _stdin_reader() -> LineReader | None:
    """Lines from stdin (a terminal, a pipe or a file); None when there is no stdin."""
    if sys.stdin is None:
        return None
    try:
        return LineReader(sys.stdin)
    except (OSError, ValueError):  # closed, or not backed by a file descriptor
        return None
