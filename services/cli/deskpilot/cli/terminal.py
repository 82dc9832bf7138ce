"""What every session command is given and how it fails: the `Terminal` it writes to and
reads from, and `execute`, which turns server errors into one line and an exit code."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TextIO

import grpc

from deskpilot.cli.prompt import LineReader
from deskpilot.cli.render import Style
from deskpilot.cli.settings import CliSettings
from deskpilot.common.client_tokens import TokenSource
from deskpilot.common.errors import retry_delay
from deskpilot.common.grpc_client import open_channel
from deskpilot.common.security import SecurityNotConfigured, channel_credentials
from deskpilot.v1.orchestrator_pb2_grpc import OrchestratorStub

EXIT_INTERRUPTED = 130


class UsageError(ValueError):
    """Bad command-line input caught before anything is sent (exit code 2)."""


@dataclass
class Terminal:
    """Where a command writes, what it reads, and whether it may ask questions."""

    out: TextIO
    err: TextIO
    input: LineReader | None = None  # where typed answers and messages come from; None: nowhere
    interactive: bool = False  # a person at a terminal: questions may be asked
    colour: bool = False
    # Set by Ctrl-C (main installs the signal handler); tests set it themselves.
    interrupted: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def style(self) -> Style:
        return Style(self.colour)

    def say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()


Command = Callable[[argparse.Namespace, OrchestratorStub, Terminal], Awaitable[int]]


async def execute(
    name: str,
    command: Command,
    args: argparse.Namespace,
    settings: CliSettings,
    term: Terminal,
    token: TokenSource,
) -> int:
    """Run `command` with a channel to the orchestrator presenting `token`; report errors
    as one line."""
    try:
        credentials = channel_credentials(settings.tls)
    except SecurityNotConfigured as exc:  # a certificate or key it cannot read
        term.err.write(f"deskpilot {name}: {exc}\n")
        return 2
    channel = open_channel(settings.orchestrator, token=token, credentials=credentials)
    try:
        return await command(args, OrchestratorStub(channel), term)
    except UsageError as exc:
        term.err.write(f"deskpilot {name}: {exc}\n")
        return 2
    except grpc.aio.AioRpcError as exc:
        term.err.write(f"deskpilot {name}: {explain_error(exc, settings)}\n")
        return 2 if exc.code() == grpc.StatusCode.INVALID_ARGUMENT else 1
    finally:
        await channel.close()


def explain_error(error: grpc.aio.AioRpcError, settings: CliSettings) -> str:
    """One line for a failed call, naming what the person can do about it."""
    details = error.details() or error.code().name
    if (delay := retry_delay(error)) is not None:
        # The orchestrator answered: the session was changing hands, not the server gone.
        return f"{details} (the orchestrator says to try again in {delay:g} s)"
    if error.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        return (
            f"cannot reach the orchestrator at {settings.orchestrator} ({details}); is "
            "`deskpilot up` running? Point --orchestrator / DESKPILOT_CLI_ORCHESTRATOR at it."
        )
    if error.code() == grpc.StatusCode.UNAUTHENTICATED:
        return (
            f"the orchestrator refused your token ({settings.token_path()}): {details}; "
            "`deskpilot up` writes a fresh one to var/auth/cli.token at each start"
        )
    return details
