"""`deskpilot`: the command-line entry point."""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, get_args, get_origin

from deskpilot.cli import local_auth, settings_doc
from deskpilot.cli.sandbox_check import sandbox_problem, shared_user_notice
from deskpilot.cli.session_main import SESSION_COMMANDS, add_session_parsers, session_command
from deskpilot.cli.stack import (
    UpSettings,
    api_key_notice,
    build_stack,
    gateway_url,
    missing_services,
    uses_stand_in,
)
from deskpilot.cli.supervisor import Supervisor
from deskpilot.cli.token_main import add_token_parser, login_link, token_argv, token_command
from deskpilot.common.config import SettingsError, load_settings, settings_table
from deskpilot.common.keys import KeyFileError


def up(argv: Sequence[str]) -> int:
    """Run the local stack until Ctrl-C or SIGTERM."""
    try:
        settings = load_settings(UpSettings, argv)
    except SettingsError as exc:
        print(f"deskpilot up: {exc}", file=sys.stderr)
        return 2
    if uses_stand_in(settings) and importlib.util.find_spec("deskpilot.standin") is None:
        print(
            "deskpilot up: --stand-in needs the stand-in package: "
            "`pip install -e services/standin`",
            file=sys.stderr,
        )
        return 2
    if problem := sandbox_problem(settings):
        print(f"deskpilot up: {problem}", file=sys.stderr)
        return 1
    try:
        auth = local_auth.prepare(settings.data_dir)
    except (OSError, KeyFileError) as exc:
        print(f"deskpilot up: cannot prepare the stack's keys and tokens: {exc}", file=sys.stderr)
        return 1
    components = build_stack(settings, auth, text_logs=sys.stdout.isatty())
    page = gateway_url(settings, components)

    def ready_notes() -> list[str]:
        if page is None:
            return []
        token = auth.cli_token_file.read_text().strip()
        return [
            f"watch and steer in the browser: {login_link(page + '/', token)}",
            "(the token is in the link's #fragment, which the browser never sends or logs; "
            "`deskpilot token SESSION` makes a share link for one session)",
        ]

    supervisor = Supervisor(
        components,
        ready_timeout=settings.ready_timeout,
        grace_seconds=settings.grace_seconds,
        ready_notes=ready_notes,
    )
    for notice in (api_key_notice(settings, os.environ), shared_user_notice()):
        if notice:
            supervisor.say(notice)
    if uses_stand_in(settings):
        supervisor.say("the model is the Messages API STAND-IN (scripted demo, not Claude)")
    supervisor.say(
        f"admin token for the CLI: {auth.cli_token_file} (readable by you only); "
        "`deskpilot token mint --help` makes more"
    )
    missing = missing_services()
    if missing:
        supervisor.say(f"not installed, not started: {', '.join(missing)}")
    return asyncio.run(supervisor.run())


def up_help_parser() -> argparse.ArgumentParser:
    """A parser that only formats `deskpilot up --help`, the way argparse shows options:
    the settings themselves are read by load_settings (flags, variables, defaults)."""
    parser = argparse.ArgumentParser(
        prog="deskpilot up",
        description="Start the local stack: nats-server and every installed service, until "
        "Ctrl-C. Each option may also be set by the environment variable its help names.",
    )
    fields = UpSettings.model_fields.values()
    for (flag, env, default, doc), field in zip(settings_table(UpSettings), fields, strict=True):
        text = f"{doc} (default {default or 'none'}; {env})".replace("%", "%%")
        if field.annotation is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, help=text)
        elif get_origin(field.annotation) is Literal:
            parser.add_argument(flag, choices=get_args(field.annotation), help=text)
        else:
            parser.add_argument(flag, help=text)  # the value is named after the flag
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="deskpilot", description="Claude on a real desktop.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser(  # its flags are settings: `up` reads them, up_help_parser shows them
        "up",
        help="start nats-server and every installed service; Ctrl-C stops them",
        add_help=False,
    )
    settings_cmd = commands.add_parser(
        "settings", help="print every setting of every installed component"
    )
    settings_cmd.add_argument(
        "--update-readme", metavar="PATH", help="rewrite the settings table in this README"
    )
    add_session_parsers(commands)
    add_token_parser(commands)
    args, rest = parser.parse_known_args(token_argv(list(sys.argv[1:] if argv is None else argv)))
    if args.command in SESSION_COMMANDS:
        if rest:
            parser.error(f"unrecognized arguments: {' '.join(rest)}")
        return session_command(args)
    if args.command == "token":
        if rest:
            parser.error(f"unrecognized arguments: {' '.join(rest)}")
        return token_command(args)
    if args.command == "up":
        if {"-h", "--help"} & set(rest):
            up_help_parser().print_help()
            return 0
        return up(rest)
    if args.command == "settings":
        if rest:
            parser.error(f"unrecognized arguments: {' '.join(rest)}")
        if args.update_readme:
            changed = settings_doc.update_readme(Path(args.update_readme))
            print(f"{args.update_readme}: {'updated' if changed else 'already current'}")
        else:
            print(settings_doc.markdown())
        return 0
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
