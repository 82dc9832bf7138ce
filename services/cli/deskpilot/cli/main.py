"""`deskpilot`: the command-line entry point."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from deskpilot.cli import settings_doc
from deskpilot.cli.stack import UpSettings, build_stack, missing_services
from deskpilot.cli.supervisor import Supervisor
from deskpilot.common.config import SettingsError, load_settings, settings_table


def up(argv: Sequence[str]) -> int:
    """Run the local stack until Ctrl-C or SIGTERM."""
    try:
        settings = load_settings(UpSettings, argv)
    except SettingsError as exc:
        print(f"deskpilot up: {exc}", file=sys.stderr)
        return 2
    supervisor = Supervisor(
        build_stack(settings, text_logs=sys.stdout.isatty()),
        ready_timeout=settings.ready_timeout,
        grace_seconds=settings.grace_seconds,
    )
    missing = missing_services()
    if missing:
        supervisor.say(f"not installed, not started: {', '.join(missing)}")
    return asyncio.run(supervisor.run())


def _up_help() -> str:
    rows = [f"  {flag:<22} {doc} (default {default}; {env})"
            for flag, env, default, doc in settings_table(UpSettings)]  # fmt: skip
    return "options:\n" + "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="deskpilot", description="Claude on a real desktop.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser(
        "up",
        help="start nats-server and every installed service; Ctrl-C stops them",
        description="Start the local stack.",
        epilog=_up_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        add_help=True,
    )
    settings_cmd = commands.add_parser(
        "settings", help="print every setting of every installed component"
    )
    settings_cmd.add_argument(
        "--update-readme", metavar="PATH", help="rewrite the settings table in this README"
    )
    args, rest = parser.parse_known_args(argv)
    if args.command == "up":
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
