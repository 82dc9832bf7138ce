"""The Shell gRPC service: requests checked, run in the session's shell or editor."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
import weakref
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc

from deskpilot.common.errors import InvalidArgument
from deskpilot.common.replay import ReplayCache
from deskpilot.shell import metrics, tool_calls
from deskpilot.shell.bash_session import RESET_NOTE, BashSession, CommandResult
from deskpilot.shell.editor import Editor, EditOutcome
from deskpilot.shell.paths import PathPolicy
from deskpilot.shell.relay import ChunkRelay
from deskpilot.shell.settings import ShellSettings
from deskpilot.v1 import shell_pb2, shell_pb2_grpc

_STREAMS = {"stdout": shell_pb2.OUTPUT_STREAM_STDOUT, "stderr": shell_pb2.OUTPUT_STREAM_STDERR}


class ShellServicer(shell_pb2_grpc.ShellServicer):
    """Bash and Edit for one session."""

    def __init__(self, settings: ShellSettings) -> None:
        self.settings = settings
        self.bash = BashSession(
            settings.shell_path,
            settings.working_dir,
            kill_grace_seconds=settings.kill_grace_seconds,
            input_check_seconds=settings.input_check_seconds,
        )
        self.policy = PathPolicy(settings.roots)
        self.editor = Editor(
            self.policy,
            settings.max_file_bytes,
            settings.max_directory_entries,
            settings.undo_depth,
        )
        self.bash_replays = ReplayCache(
            shell_pb2.BashResponse,
            lambda why: shell_pb2.BashResponse(note=why),
            max_results=settings.idempotency_entries,
        )
        self.edit_replays = ReplayCache(
            shell_pb2.EditResponse,
            lambda why: shell_pb2.EditResponse(output=why),
            max_results=settings.idempotency_entries,
        )
        self._path_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    async def close(self) -> None:
        """Stop the commands and edits still running, then kill the shell and everything it
        started."""
        await self.bash_replays.cancel_running()
        await self.edit_replays.cancel_running()
        await self.bash.close()

    # -- bash ---------------------------------------------------------------------------

    async def Bash(
        self, request: shell_pb2.BashRequest, context: grpc.aio.ServicerContext
    ) -> shell_pb2.BashResponse:
        return await self.bash_replays.run(
            request.idempotency_key,
            request,
            lambda: self._run_bash(request, None),
            on_replay=metrics.REPLAYS.labels("bash").inc,
        )

    async def BashStream(
        self, request: shell_pb2.BashStreamRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[shell_pb2.BashStreamResponse]:
        inner = request.request
        relay = ChunkRelay(self.settings.max_stream_buffer_bytes)
        task = asyncio.create_task(
            self.bash_replays.run(
                inner.idempotency_key,
                inner,
                lambda: self._run_bash(inner, relay.put),
                on_replay=metrics.REPLAYS.labels("bash").inc,
            )
        )
        task.add_done_callback(lambda _: relay.close())
        try:
            async for name, text in relay:
                yield shell_pb2.BashStreamResponse(
                    chunk=shell_pb2.OutputChunk(stream=_STREAMS[name], text=text)
                )
            yield shell_pb2.BashStreamResponse(result=await task)
        finally:
            if not task.done():
                # Ends the command only when it has no idempotency key: a keyed command
                # runs on, so a repeat of the key gets its result.
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task

    async def _run_bash(
        self,
        request: shell_pb2.BashRequest,
        on_chunk: Callable[[str, bytes], None] | None,
    ) -> shell_pb2.BashResponse:
        command = self._bash_command(request)
        timeout = self._timeout(request.timeout_seconds)
        limit = self._output_limit(request.max_output_bytes)
        started = time.perf_counter()
        if command.restart:
            await self.bash.restart()
            metrics.BASH_RESTARTS.labels("requested").inc()
            return shell_pb2.BashResponse(
                restarted=True,
                note=f"the shell was restarted and everything it started was killed ({RESET_NOTE})",
                duration_ms=(time.perf_counter() - started) * 1000,
            )
        with metrics.COMMAND_SECONDS.labels("bash", "run").time():
            result = await self.bash.run(command.command, timeout, limit, on_chunk)
        if result.timed_out:
            metrics.BASH_TIMEOUTS.inc()
        if result.waited_for_input:
            metrics.BASH_INPUT_WAITS.inc()
        if result.restarted:
            metrics.BASH_RESTARTS.labels("timeout" if result.timed_out else "exited").inc()
        return _bash_response(result, timeout)

    def _bash_command(self, request: shell_pb2.BashRequest) -> shell_pb2.BashCommand:
        kind = request.WhichOneof("request")
        if kind == "tool_call":
            command = tool_calls.parse_bash_call(request.tool_call, request.version)
        elif kind == "command":
            tool_calls.check_bash_version(request.version)
            command = request.command
        else:
            raise InvalidArgument("BashRequest needs `command` or `tool_call`")
        if command.restart:
            if command.command:
                raise InvalidArgument(
                    "restart takes no command: send `restart: true` alone, then the command"
                )
            return command
        where = "tool_call.input.command" if kind == "tool_call" else "command.command"
        if not command.HasField("command") or not command.command.strip():
            raise InvalidArgument("`command` is empty: give the command line to run", field=where)
        if "\0" in command.command:
            raise InvalidArgument(
                "`command` contains a NUL character, which bash cannot run", field=where
            )
        return command

    def _timeout(self, seconds: float) -> float:
        if seconds == 0:
            return self.settings.default_timeout_seconds
        if not math.isfinite(seconds) or seconds < 0:
            raise InvalidArgument(
                f"timeout_seconds must be positive (or 0 for the default "
                f"{self.settings.default_timeout_seconds:g} s), got {seconds}",
                field="timeout_seconds",
            )
        if seconds > self.settings.max_timeout_seconds:
            raise InvalidArgument(
                f"timeout_seconds {seconds:g} is over the limit of "
                f"{self.settings.max_timeout_seconds:g} s",
                field="timeout_seconds",
            )
        return seconds

    def _output_limit(self, limit: int) -> int:
        if limit == 0:
            return self.settings.max_output_bytes
        if not 0 < limit <= self.settings.max_output_bytes_limit:
            raise InvalidArgument(
                f"max_output_bytes must be between 1 and {self.settings.max_output_bytes_limit} "
                f"(or 0 for the default {self.settings.max_output_bytes}), got {limit}",
                field="max_output_bytes",
            )
        return limit

    # -- editor -------------------------------------------------------------------------

    async def Edit(
        self, request: shell_pb2.EditRequest, context: grpc.aio.ServicerContext
    ) -> shell_pb2.EditResponse:
        return await self.edit_replays.run(
            request.idempotency_key,
            request,
            lambda: self._run_edit(request),
            on_replay=metrics.REPLAYS.labels("edit").inc,
        )

    async def _run_edit(self, request: shell_pb2.EditRequest) -> shell_pb2.EditResponse:
        kind = request.WhichOneof("request")
        if kind == "tool_call":
            command, version = tool_calls.parse_edit_call(request.tool_call, request.version)
        elif kind == "command":
            tool_calls.check_editor_version(request.version)
            command, version = request.command, request.version
        else:
            raise InvalidArgument("EditRequest needs `command` or `tool_call`")
        verb = command.WhichOneof("command")
        allowed = tool_calls.editor_fields(version)
        name = tool_calls.EDITOR_VERSION_NAMES[version]
        if verb is None:
            raise InvalidArgument(
                f"no command given; allowed for {name}: {', '.join(allowed)}", field="command"
            )
        if verb not in allowed:
            raise InvalidArgument(
                f"{verb} is not a command of {name} (it exists only in text_editor_20241022 "
                f"and text_editor_20250124); allowed: {', '.join(allowed)}",
                field="command",
            )
        args = getattr(command, verb)
        if not args.HasField("path"):
            raise InvalidArgument(f"`path` is required for {verb}", field=f"command.{verb}.path")
        # Resolved here for errors before the lock and one lock per real file; the editor
        # resolves again and works only through the descriptors of its own walk.
        path = self.policy.resolve(args.path)
        tool_limit = verb == "view" and request.HasField("max_characters")
        if tool_limit and not args.HasField("max_characters"):
            args.max_characters = request.max_characters
        operation = self._operation(verb, args, path, version)
        lock = self._path_locks.setdefault(path, asyncio.Lock())
        with metrics.COMMAND_SECONDS.labels("edit", verb).time():
            async with lock:
                outcome: EditOutcome = await asyncio.to_thread(operation)
        return shell_pb2.EditResponse(
            output=outcome.output, path=outcome.path, changed=outcome.changed
        )

    def _operation(
        self, verb: str, args: Any, path: str, version: int
    ) -> Callable[[], EditOutcome]:
        """Check the typed command's fields and bind it to the editor method."""
        editor = self.editor
        if verb == "view":
            view_range = None
            if args.HasField("view_range"):
                view_range = (args.view_range.start, args.view_range.end)
            max_characters = None
            if args.HasField("max_characters"):
                if not tool_calls.editor_has_max_characters(version):
                    raise InvalidArgument(
                        "max_characters exists only in text_editor_20250728, not in "
                        f"{tool_calls.EDITOR_VERSION_NAMES[version]}"
                    )
                if args.max_characters <= 0:
                    raise InvalidArgument(
                        f"max_characters must be positive, got {args.max_characters}"
                    )
                max_characters = args.max_characters
            return lambda: editor.view(path, view_range, max_characters)
        if verb == "create":
            _require(args, "file_text", verb)
            return lambda: editor.create(path, args.file_text)
        if verb == "str_replace":
            _require(args, "old_str", verb)
            return lambda: editor.str_replace(path, args.old_str, args.new_str)
        if verb == "insert":
            _require(args, "insert_line", verb)
            _require(args, "insert_text", verb)
            return lambda: editor.insert(path, args.insert_line, args.insert_text)
        return lambda: editor.undo_edit(path)


def _require(args: Any, field: str, verb: str) -> None:
    if not args.HasField(field):
        # Only a typed command gets here without it: a raw call's are checked when parsed.
        raise InvalidArgument(f"`{field}` is required for {verb}", field=f"command.{verb}.{field}")


def _bash_response(result: CommandResult, timeout: float) -> shell_pb2.BashResponse:
    notes = list(result.notes)
    if result.timed_out:
        notes[0:0] = [f"timed out after {timeout:g} s"]
    return shell_pb2.BashResponse(
        stdout=result.stdout.text(),
        stderr=result.stderr.text(),
        exit_code=result.exit_code,
        timed_out=result.timed_out,
        restarted=result.restarted,
        note="; ".join(notes),
        stdout_truncation=result.stdout.truncation(),
        stderr_truncation=result.stderr.truncation(),
        duration_ms=result.duration_s * 1000,
        waited_for_input=result.waited_for_input,
    )
