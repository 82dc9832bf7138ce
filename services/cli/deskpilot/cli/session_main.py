"""Parsing and running the session commands (`run`, `send`, `chat`, `watch`, `sessions`,
`approve`, `deny`, `cancel`, `delete`, `take`, `handback`) on this process's terminal;
`commands.py`, `conversation.py` and `control.py` do the work."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys

from deskpilot.cli import commands as commands_mod
from deskpilot.cli import control, conversation
from deskpilot.cli.prompt import LineReader
from deskpilot.cli.settings import CliSettings
from deskpilot.cli.terminal import Command, Terminal, execute
from deskpilot.common.client_tokens import TokenFile, TokenFileError
from deskpilot.common.config import SettingsError, load_settings
from deskpilot.common.tokens import unverified_subject

# TLS to an orchestrator that serves it (a Kubernetes deployment): flags as the services
# name theirs, read by CliSettings (DESKPILOT_CLI_TLS__CA_FILE, ...).
TLS_FLAGS = {
    "ca-file": "CA (PEM) to check the orchestrator's certificate against; turns TLS on",
    "cert-file": "your client certificate (PEM), where the orchestrator asks for one",
    "key-file": "the private key of --tls.cert-file (PEM)",
}


def add_session_parsers(commands: argparse._SubParsersAction) -> None:
    """The commands that talk to an orchestrator."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--orchestrator",
        metavar="HOST:PORT",
        help="orchestrator gRPC address (default 127.0.0.1:50051; DESKPILOT_CLI_ORCHESTRATOR)",
    )
    common.add_argument(
        "--token-file",
        metavar="PATH",
        help="your token, whose subject is recorded on your messages, approvals and "
        "takeovers (default var/auth/cli.token, written by `deskpilot up`, else "
        "~/.config/deskpilot/token; DESKPILOT_CLI_TOKEN_FILE)",
    )
    for name, text in TLS_FLAGS.items():
        common.add_argument(f"--tls.{name}", dest=f"tls_{name.replace('-', '_')}",
                            metavar="PATH", help=text)  # fmt: skip
    config = _session_config_parser()
    run = commands.add_parser(
        "run", parents=[common, config], help="start a session and show it live; Ctrl-C cancels it"
    )
    run.add_argument("task", help="what Claude should do")
    send = commands.add_parser(
        "send",
        parents=[common],
        help="send a session a follow-up message and show it live until the model's turn ends",
    )
    send.add_argument("session_id", metavar="ID")
    send.add_argument("text", metavar="TEXT", help="the message")
    chat = commands.add_parser(
        "chat",
        parents=[common, config],
        help="talk with a session: follow it, type your next message, repeat",
        description="Start a session with TASK (asked for when left out), or attach to one "
        "with --session (TASK, if given, is its next message). Follows the session until the "
        "model waits for you, then reads your next message at `you> `. Ctrl-D or `exit` "
        "leaves; the session stays open. Ctrl-C while the model works cancels the session.",
    )
    chat.add_argument("task", nargs="?", metavar="TASK", help="what Claude should do")
    chat.add_argument("--session", metavar="ID", help="attach to this session")
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
    cancel = commands.add_parser(
        "cancel", parents=[common], help="stop a session's work (its sandbox stays until delete)"
    )
    cancel.add_argument("session_id", metavar="ID")
    cancel.add_argument("--reason", default="", help="why (recorded on the session)")
    delete = commands.add_parser(
        "delete", parents=[common], help="stop a session's sandbox and forget the session"
    )
    delete.add_argument("session_id", metavar="ID")
    delete.add_argument(
        "--keep-history", action="store_true", help="keep its events, so `watch` replays them"
    )
    take = commands.add_parser(
        "take", parents=[common], help="take control of a session's desktop; the agent waits"
    )
    take.add_argument("session_id", metavar="ID")
    handback = commands.add_parser(
        "handback", parents=[common], help="give the desktop back; the agent goes on"
    )
    handback.add_argument("session_id", metavar="ID")
    handback.add_argument("--note", default="", help="what you did (told to the model)")


def _session_config_parser() -> argparse.ArgumentParser:
    """The settings of a new session (`run`, and `chat` when it starts one)."""
    config = argparse.ArgumentParser(add_help=False)
    config.add_argument("--model", help="model id (default: the orchestrator's)")
    config.add_argument("--display", metavar="WxH", help="desktop size, e.g. 1280x800")
    config.add_argument("--tool-set", choices=sorted(commands_mod.TOOL_SETS), help="tool versions")
    config.add_argument("--max-steps", type=int, help="most model turns")
    config.add_argument("--max-tokens", type=int, help="most tokens over the session")
    config.add_argument("--max-wall-seconds", type=int, help="most seconds of wall-clock time")
    config.add_argument("--max-output-tokens", type=int, help="most output tokens per turn")
    config.add_argument("--thinking-budget", type=int, help="extended thinking tokens (>= 1024)")
    config.add_argument("--system-suffix", help="text appended to the system prompt")
    config.add_argument(
        "--allow-domain", action="append", metavar="DOMAIN", help="allow a domain (repeatable)"
    )
    config.add_argument("--keep-screenshots", type=int, help="screenshots kept in the conversation")
    return config


SESSION_COMMANDS: dict[str, Command] = {
    "run": commands_mod.run,
    "send": conversation.send,
    "chat": conversation.chat,
    "watch": commands_mod.watch,
    "sessions": commands_mod.sessions,
    "approve": commands_mod.resolver(approve=True),
    "deny": commands_mod.resolver(approve=False),
    "cancel": control.cancel,
    "delete": control.delete,
    "take": control.take,
    "handback": control.handback,
}


def session_command(args: argparse.Namespace) -> int:
    """Run one session command on this process's terminal."""
    overrides = {k: v for k in ("orchestrator", "token_file") if (v := getattr(args, k))}
    tls_flags = [
        part
        for name in TLS_FLAGS
        if (value := getattr(args, f"tls_{name.replace('-', '_')}", None))
        for part in (f"--tls.{name}", value)
    ]
    try:
        settings = load_settings(CliSettings, tls_flags, **overrides)
        token = TokenFile(settings.token_path())
    except SettingsError as exc:
        print(f"deskpilot {args.command}: {exc}", file=sys.stderr)
        return 2
    except TokenFileError as exc:
        print(
            f"deskpilot {args.command}: {exc}: `deskpilot up` writes one to "
            "var/auth/cli.token; elsewhere pass --token-file / DESKPILOT_CLI_TOKEN_FILE",
            file=sys.stderr,
        )
        return 2
    # Who the orchestrator will record us as, to show our own messages and takeovers as
    # it does (it reads the name from the verified token, not from what we send).
    args.user = unverified_subject(token()) or "you"

    async def main_task() -> int:
        term = _own_terminal()
        # Ctrl-C: `run`, `send` and `chat` cancel the session, `watch` stops watching.
        asyncio.get_running_loop().add_signal_handler(signal.SIGINT, term.interrupted.set)
        command = SESSION_COMMANDS[args.command]
        return await execute(args.command, command, args, settings, term, token)

    return asyncio.run(main_task())


def _own_terminal() -> Terminal:
    reader = _stdin_reader()
    return Terminal(
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
