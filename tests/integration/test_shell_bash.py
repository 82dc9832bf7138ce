"""The bash tool against the real Shell service over gRPC: a real persistent bash."""

from __future__ import annotations

import asyncio
import json
import math
import os
import sys
import time
from pathlib import Path

import grpc
import pytest
from google.protobuf import struct_pb2

from deskpilot.common.grpc_client import open_channel, wait_until_serving
from deskpilot.common.net import free_port
from deskpilot.common.sandbox_credential import call_metadata, credential_pipe, new_credential
from deskpilot.shell.output import readable
from deskpilot.v1 import common_pb2, shell_pb2, shell_pb2_grpc
from tests.fixtures.shell import ShellHandle, running_shell


async def bash(
    handle: ShellHandle, command: str, timeout: float = 20, **fields: object
) -> shell_pb2.BashResponse:
    request = shell_pb2.BashRequest(
        command=shell_pb2.BashCommand(command=command), timeout_seconds=timeout, **fields
    )
    return await handle.stub.Bash(request)


async def restart(handle: ShellHandle) -> shell_pb2.BashResponse:
    return await handle.stub.Bash(
        shell_pb2.BashRequest(command=shell_pb2.BashCommand(restart=True))
    )


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


async def wait_dead(pids: list[int], attempts: int = 100) -> list[int]:
    """The pids still alive after giving the kernel a moment to finish killing them."""
    for _ in range(attempts):
        living = [pid for pid in pids if alive(pid)]
        if not living:
            return []
        await asyncio.sleep(0.02)
    return living


async def test_state_persists_between_calls(shell: ShellHandle) -> None:
    await bash(shell, 'cd /usr && export GREETING=hello && shout() { echo "${1^^}"; }')
    await bash(shell, "declare -a list=(a b c); counter=41")
    result = await bash(shell, "pwd; echo $GREETING; shout quiet; echo ${list[2]} $((counter+1))")
    assert result.stdout == "/usr\nhello\nQUIET\nc 42\n"
    assert result.exit_code == 0


async def test_stdout_stderr_and_exit_status_are_separate(shell: ShellHandle) -> None:
    result = await bash(
        shell, "echo out; echo err >&2; printf tail; exit_code() { return 3; }; exit_code"
    )
    assert (result.stdout, result.stderr, result.exit_code) == ("out\ntail", "err\n", 3)
    assert not result.timed_out and not result.restarted
    assert (await bash(shell, "echo $?")).stdout == "3\n"


async def test_syntax_errors_and_stray_break_leave_the_shell_usable(shell: ShellHandle) -> None:
    broken = await bash(shell, "echo 'unterminated")
    assert broken.exit_code == 2 and "unexpected EOF" in broken.stderr
    assert (await bash(shell, "break")).exit_code == 0  # ends the command, not the shell
    assert (await bash(shell, "echo fine")).stdout == "fine\n"


async def test_commands_reach_bash_byte_for_byte(shell: ShellHandle) -> None:
    text = "it's \\ $HOME `id` $'\\x41' \"q\" @stdout@ {}\t\r tabs, é, 日本, \x01\x1b\x7f end"
    result = await bash(shell, f"cat <<'EOF'\n{text}\nEOF")
    assert result.stdout == readable((text + "\n").encode())
    assert result.exit_code == 0


async def test_options_and_aliases_of_the_user_do_not_break_the_shell(shell: ShellHandle) -> None:
    await bash(shell, "alias for=echo eval=echo __dp_status=echo hi='echo hello'")
    assert (await bash(shell, "hi")).stdout == "hello\n"
    assert (await bash(shell, "set -x; echo traced; set +x")).stdout == "traced\n"
    await bash(shell, "set -u; (exit 3)")
    alive = await bash(shell, "echo $?; shopt -u expand_aliases")
    assert (alive.stdout, alive.restarted) == ("3\n", False)
    assert "hi: command not found" in (await bash(shell, "hi")).stderr


async def test_timeout_kills_the_command_and_its_children(
    shell: ShellHandle, tmp_path: Path
) -> None:
    pids = tmp_path / "pids"
    await bash(shell, "cd /tmp && kept=yes")
    command = f"sleep 100 & echo $! > {pids}; bash -c 'echo $$ >> {pids}; sleep 100'"
    result = await bash(shell, command, timeout=1)
    assert result.timed_out and not result.HasField("exit_code")
    assert "timed out after 1 s" in result.note and not result.restarted
    assert await wait_dead([int(p) for p in pids.read_text().split()]) == []
    follow_up = await bash(shell, "pwd; echo $kept")
    assert (follow_up.stdout, follow_up.exit_code) == ("/tmp\nyes\n", 0)


# Each form would create the marker after `RUNS_FOR` seconds if the shell carried on
# after its timeout; every one is stopped at 0.5 s.
RUNS_FOR = 1.5
STOPPED_FORMS = {
    "the rest of the line": "sleep {t}; touch {m}",
    "a later line": "sleep {t}\ntouch {m}",
    "an and-or list": "sleep {t} && touch {m} || touch {m}",
    "a loop": "while :; do sleep 0.1; done; touch {m}",
    "a builtin loop": "while :; do :; done; touch {m}",
    "a function": "late() {{ sleep {t}; touch {m}; }}; late; touch {m}",
    "a subshell": "(sleep {t}); touch {m}",
    "a pipeline": "sleep {t} | cat; touch {m}",
    "a command substitution": "x=$(sleep {t}); touch {m}",
    "the wait builtin": "sleep {t} & wait; touch {m}",
    "a sourced file": ". {script}",
    "an ERR trap": "trap 'touch {m}' ERR; sleep {t}",
    "an INT trap": "trap 'touch {m}' INT; sleep {t}",
    "a CHLD trap": "trap 'touch {m}' CHLD; sleep {t}",
    "errexit": "set -e; sleep {t}; touch {m}",
}


async def never_appears(marker: Path, started: float) -> bool:
    """True when `marker` is still missing well after the command would have made it."""
    await asyncio.sleep(max(0.0, started + RUNS_FOR + 1.0 - time.monotonic()))
    return not marker.exists()  # noqa: ASYNC240 - one stat of a local file


def stopped_form(name: str, tmp_path: Path) -> tuple[str, Path]:
    marker = tmp_path / "marker"
    script = tmp_path / "script.sh"
    script.write_text(f"sleep {RUNS_FOR}\ntouch {marker}\n")
    return STOPPED_FORMS[name].format(t=RUNS_FOR, m=marker, script=script), marker


@pytest.mark.parametrize("form", STOPPED_FORMS)
async def test_nothing_of_a_timed_out_command_runs_after_its_timeout(
    shell: ShellHandle, tmp_path: Path, form: str
) -> None:
    command, marker = stopped_form(form, tmp_path)
    await bash(shell, "cd /tmp && kept=yes")
    started = time.monotonic()
    result = await bash(shell, command, timeout=0.5)
    assert result.timed_out and not result.HasField("exit_code")
    assert await never_appears(marker, started)
    follow_up = await bash(shell, "pwd; echo $kept")
    assert (follow_up.stdout, follow_up.exit_code) == ("/tmp\nyes\n", 0)
    assert not result.restarted
    assert "timed out after 0.5 s" in result.note and "nothing after it ran" in result.note
    assert "state is kept" in result.note


async def test_traps_of_a_timed_out_command_are_kept_and_its_status_is_130(
    shell: ShellHandle, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    await bash(shell, f"trap 'touch {marker}' INT; trap ': watching' DEBUG RETURN")
    assert (await bash(shell, f"set -m; sleep {RUNS_FOR}", timeout=0.5)).timed_out
    after = await bash(shell, "echo $?; [[ $- == *m* ]] && echo monitor; trap -p INT DEBUG RETURN")
    assert after.stdout == (
        f"130\nmonitor\ntrap -- 'touch {marker}' SIGINT\n"
        "trap -- ': watching' DEBUG\ntrap -- ': watching' RETURN\n"
    )
    assert not marker.exists()


async def test_stopping_a_command_leaves_no_files_behind(shell: ShellHandle) -> None:
    private = shell.servicer.bash._private_dir
    assert (await bash(shell, f"sleep {RUNS_FOR}", timeout=0.5)).timed_out
    assert not os.path.lexists(private)  # noqa: ASYNC240 - one stat of a local path
    # Where the shell saves traps while interrupted: something already there is not used.
    os.symlink(shell.outside, private)
    try:
        result = await bash(shell, f"trap 'echo trapped' INT; sleep {RUNS_FOR}", timeout=0.5)
    finally:
        os.unlink(private)
    assert result.timed_out and result.restarted and "could not be interrupted" in result.note
    assert os.listdir(shell.outside) == []


async def test_a_command_cancelled_by_its_client_stops_whole(
    shell: ShellHandle, tmp_path: Path
) -> None:
    command, marker = stopped_form("the rest of the line", tmp_path)
    await bash(shell, "cd /tmp")
    started = time.monotonic()
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await shell.stub.Bash(
            shell_pb2.BashRequest(
                command=shell_pb2.BashCommand(command=command), timeout_seconds=100
            ),
            timeout=0.5,
        )
    assert error.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert await never_appears(marker, started)
    assert (await bash(shell, "pwd")).stdout == "/tmp\n"


async def test_a_program_stopped_for_reading_stdin_stops_the_whole_command(
    shell: ShellHandle, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    await bash(shell, "cd /tmp")
    started = time.monotonic()
    result = await bash(shell, f"cat; touch {marker}", timeout=30)
    assert result.waited_for_input and not result.restarted
    assert await never_appears(marker, started)
    assert (await bash(shell, "pwd")).stdout == "/tmp\n"


async def test_a_shell_that_cannot_be_interrupted_is_restarted(
    shell: ShellHandle, tmp_path: Path
) -> None:
    # A command that ignores the signal the shell is interrupted with: the shell is killed.
    marker = tmp_path / "marker"
    await bash(shell, "cd /tmp")
    started = time.monotonic()
    result = await bash(shell, f"trap '' USR1; sleep {RUNS_FOR}; touch {marker}", timeout=0.5)
    assert result.timed_out and result.restarted
    assert "could not be interrupted" in result.note
    assert "working directory, variables and functions were reset" in result.note
    assert await never_appears(marker, started)
    assert (await bash(shell, "pwd")).stdout == f"{shell.home}\n"


async def test_a_command_that_takes_the_interrupt_signal_is_not_reported_as_stopped(
    shell: ShellHandle,
) -> None:
    # Its own trap runs instead of the shell's, and it carries on: no claim of a clean stop.
    result = await bash(shell, f"trap 'echo own trap' USR1; sleep {RUNS_FOR}; echo went on", 0.5)
    assert result.timed_out and result.restarted
    assert "could not be interrupted" in result.note and "nothing after" not in result.note
    assert (await bash(shell, "echo usable")).stdout == "usable\n"


async def test_timeout_inside_the_shell_itself_keeps_its_state(shell: ShellHandle) -> None:
    await bash(shell, "kept=1")
    result = await bash(shell, "while :; do :; done", timeout=0.5)
    assert result.timed_out and not result.restarted
    assert (await bash(shell, "echo [$kept]")).stdout == "[1]\n"


async def test_timeout_keeps_older_background_jobs(shell: ShellHandle) -> None:
    started = await bash(shell, "sleep 100 >/dev/null 2>&1 & echo $!")
    background = int(started.stdout)
    assert (await bash(shell, "sleep 100", timeout=0.5)).timed_out
    assert alive(background)


async def test_background_jobs_do_not_block(shell: ShellHandle) -> None:
    result = await bash(shell, "sleep 100 & echo started", timeout=10)
    assert result.stdout == "started\n" and result.exit_code == 0


async def test_restart_kills_the_real_shell_and_its_children(shell: ShellHandle) -> None:
    first = await bash(shell, "cd /tmp; sleep 100 & echo $$ $!")
    shell_pid, child_pid = map(int, first.stdout.split())
    assert shell_pid == shell.servicer.bash.pid  # the real shell, not a wrapper
    restarted = await restart(shell)
    assert restarted.restarted and "restarted" in restarted.note
    assert await wait_dead([shell_pid, child_pid]) == []
    after = await bash(shell, "echo $$; pwd")
    new_pid, cwd = after.stdout.split()
    assert int(new_pid) != shell_pid and cwd == str(shell.home)


async def test_exit_starts_a_fresh_shell(shell: ShellHandle) -> None:
    result = await bash(shell, "exit 7")
    assert result.exit_code == 7 and result.restarted
    assert "ended the shell" in result.note
    assert (await bash(shell, "echo back")).stdout == "back\n"


async def test_redirections_of_one_call_do_not_break_the_next(shell: ShellHandle) -> None:
    closed = await bash(shell, "exec >&-; echo lost")
    assert closed.exit_code == 1 and "Bad file descriptor" in closed.stderr
    assert (await bash(shell, "exec 2>&1; echo back")).stdout == "back\n"
    separate = await bash(shell, "echo out; echo err >&2")
    assert (separate.stdout, separate.stderr) == ("out\n", "err\n")


async def test_background_output_between_calls_comes_with_the_next_call(
    shell: ShellHandle, tmp_path: Path
) -> None:
    flag = tmp_path / "flag"
    await bash(shell, f"(while [ ! -e {flag} ]; do sleep 0.01; done; echo late) &")
    flag.touch()
    result = await bash(shell, "sleep 0.3; echo now")
    assert result.stdout == "late\nnow\n"


async def test_cancelled_call_ends_its_command(shell: ShellHandle, tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    request = shell_pb2.BashRequest(
        command=shell_pb2.BashCommand(command=f"sh -c 'echo $$ > {pid_file}; exec sleep 100'"),
        timeout_seconds=100,
    )
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await shell.stub.Bash(request, timeout=1)
    assert error.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert (await bash(shell, "echo free")).stdout == "free\n"
    assert await wait_dead([int(pid_file.read_text())]) == []


async def test_output_is_truncated_keeping_head_and_tail(shell: ShellHandle) -> None:
    result = await bash(shell, "seq 1 100000; seq 1 50 >&2", max_output_bytes=1000)
    total = len("".join(f"{i}\n" for i in range(1, 100001)))
    assert result.stdout.startswith("1\n2\n3\n")
    assert result.stdout.endswith("99999\n100000\n")
    assert result.stdout_truncation.truncated
    assert result.stdout_truncation.total_bytes == total
    assert result.stdout_truncation.omitted_bytes == total - 1000
    assert f"[... {total - 1000} bytes of output omitted ...]" in result.stdout
    assert not result.stderr_truncation.truncated and result.stderr.endswith("49\n50\n")


async def test_binary_and_invalid_utf8_come_back_readable(shell: ShellHandle) -> None:
    result = await bash(shell, r"printf 'caf\xc3\xa9 \xff\xfe\x00\x1b[0m ok'")
    assert result.stdout == "café \\xff\\xfe\\x00\\x1b[0m ok"
    noise = await bash(shell, "head -c 100000 /dev/urandom", max_output_bytes=2048)
    assert noise.exit_code == 0 and noise.stdout_truncation.total_bytes == 100000
    noise.stdout.encode("utf-8")  # valid text, whatever the bytes were


async def test_interactive_program_is_detected_and_stopped(shell: ShellHandle) -> None:
    result = await bash(shell, "echo before; python3", timeout=30)
    assert not result.timed_out and not result.HasField("exit_code")
    assert result.waited_for_input
    assert result.stdout == "before\n"
    assert "waited for input" in result.note and "python3" in result.note
    assert "heredoc" in result.note
    following = await bash(shell, "echo next")
    assert following.stdout == "next\n" and not following.waited_for_input


async def test_read_builtin_waiting_for_input_is_detected(shell: ShellHandle) -> None:
    await bash(shell, "kept=1")
    result = await bash(shell, "read answer", timeout=30)
    assert "waited for input" in result.note and not result.restarted
    assert (await bash(shell, "echo ok $kept")).stdout == "ok 1\n"


async def test_heredoc_input_still_works(shell: ShellHandle) -> None:
    result = await bash(shell, "python3 - <<'EOF'\nprint(6 * 7)\nEOF")
    assert result.stdout == "42\n"


async def test_program_polling_its_terminal_times_out_cleanly(shell: ShellHandle) -> None:
    # No controlling terminal: /dev/tty cannot be opened (so sudo cannot prompt).
    tty = await bash(shell, "exec 9</dev/tty && echo has-tty || echo no-tty")
    assert tty.stdout == "no-tty\n"
    # Like a full-screen editor, it polls stdin instead of reading it: only the timeout ends it.
    poller = "python3 -c 'import select, sys; select.select([sys.stdin], [], [])'"
    result = await bash(shell, f"echo waiting; {poller}", timeout=1)
    assert result.timed_out and not result.restarted and result.stdout == "waiting\n"
    assert (await bash(shell, "echo usable")).stdout == "usable\n"


async def test_stream_sends_output_as_it_arrives(shell: ShellHandle) -> None:
    request = shell_pb2.BashStreamRequest(
        request=shell_pb2.BashRequest(
            command=shell_pb2.BashCommand(
                command="for i in 1 2 3; do echo line$i; echo warn$i >&2; sleep 0.2; done"
            ),
            timeout_seconds=20,
        )
    )
    chunks: list[shell_pb2.OutputChunk] = []
    result = None
    async for message in shell.stub.BashStream(request):
        if message.HasField("chunk"):
            assert result is None
            chunks.append(message.chunk)
        else:
            result = message.result
    assert result is not None and result.exit_code == 0
    stdout = "".join(c.text for c in chunks if c.stream == shell_pb2.OUTPUT_STREAM_STDOUT)
    stderr = "".join(c.text for c in chunks if c.stream == shell_pb2.OUTPUT_STREAM_STDERR)
    assert stdout == result.stdout == "line1\nline2\nline3\n"
    assert stderr == result.stderr == "warn1\nwarn2\nwarn3\n"
    assert len([c for c in chunks if c.stream == shell_pb2.OUTPUT_STREAM_STDOUT]) >= 3


async def test_idempotency_key_replays_without_running_again(shell: ShellHandle) -> None:
    request = shell_pb2.BashRequest(
        command=shell_pb2.BashCommand(command="n=$((n+1)); echo $n"), idempotency_key="k1"
    )
    first = await shell.stub.Bash(request)
    again = await shell.stub.Bash(request)
    assert (first.stdout, first.replayed) == ("1\n", False)
    assert (again.stdout, again.replayed) == ("1\n", True)
    assert (await bash(shell, "echo $n")).stdout == "1\n"
    other = shell_pb2.BashRequest(command=shell_pb2.BashCommand(command="id"), idempotency_key="k1")
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await shell.stub.Bash(other)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "different request" in error.value.details()


async def test_concurrent_repeats_of_a_key_run_once(shell: ShellHandle) -> None:
    request = shell_pb2.BashRequest(
        command=shell_pb2.BashCommand(command="sleep 0.3; m=$((m+1)); echo $m"),
        idempotency_key="slow",
    )
    results = await asyncio.gather(*(shell.stub.Bash(request) for _ in range(3)))
    assert [r.stdout for r in results] == ["1\n"] * 3
    assert sorted(r.replayed for r in results) == [False, True, True]


async def test_the_service_process_runs_from_its_entry_point(tmp_path: Path) -> None:
    port = free_port()
    env = dict(os.environ, DESKPILOT_SHELL_ROOTS=json.dumps([str(tmp_path)]))
    credential = new_credential()
    fd = credential_pipe(credential)
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "deskpilot.shell", "--port", str(port),
            "--working-dir", str(tmp_path), "--credential-fd", str(fd), env=env, pass_fds=(fd,),
        )  # fmt: skip
    finally:
        os.close(fd)
    metadata = call_metadata(credential)
    try:
        address = f"127.0.0.1:{port}"
        await wait_until_serving(address, service="deskpilot.v1.Shell", timeout=30)
        async with open_channel(address) as channel:
            stub = shell_pb2_grpc.ShellStub(channel)
            result = await stub.Bash(
                shell_pb2.BashRequest(command=shell_pb2.BashCommand(command="pwd")),
                metadata=metadata,
            )
            assert result.stdout == f"{tmp_path}\n"
            started = await stub.Bash(
                shell_pb2.BashRequest(command=shell_pb2.BashCommand(command="sleep 100 & echo $!")),
                metadata=metadata,
            )
            error = await rejected_edit(stub, "/etc/passwd", metadata=metadata)
            assert "outside" in error.details()
    finally:
        process.terminate()
        assert await process.wait() == 0
    assert await wait_dead([int(started.stdout)]) == []  # stopping the service ends its shell


async def rejected_edit(
    stub: shell_pb2_grpc.ShellStub, path: str, metadata: tuple[tuple[str, str], ...] = ()
) -> grpc.aio.AioRpcError:
    view = shell_pb2.EditCommand(view=shell_pb2.ViewCommand(path=path))
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await stub.Edit(shell_pb2.EditRequest(command=view), metadata=metadata)
    return error.value


def tool_call(tool_type: str = "bash_20250124", **fields: object) -> common_pb2.ToolCall:
    arguments = struct_pb2.Struct()
    arguments.update(fields)
    return common_pb2.ToolCall(name="bash", tool_type=tool_type, input=arguments)


async def test_raw_tool_calls(shell: ShellHandle) -> None:
    result = await shell.stub.Bash(shell_pb2.BashRequest(tool_call=tool_call(command="echo raw")))
    assert result.stdout == "raw\n"
    restarted = await shell.stub.Bash(
        shell_pb2.BashRequest(tool_call=tool_call("bash_20241022", restart=True))
    )
    assert restarted.restarted


@pytest.mark.parametrize(
    ("request_fields", "message"),
    [
        ({}, "needs `command` or `tool_call`"),
        ({"command": shell_pb2.BashCommand(command="  ")}, "`command` is empty"),
        ({"command": shell_pb2.BashCommand(command="a\0b")}, "NUL"),
        ({"command": shell_pb2.BashCommand(command="ls", restart=True)}, "restart takes no"),
        ({"command": shell_pb2.BashCommand(command="ls"), "timeout_seconds": -1}, "positive"),
        ({"command": shell_pb2.BashCommand(command="ls"), "timeout_seconds": 1e9}, "limit"),
        ({"command": shell_pb2.BashCommand(command="ls"), "max_output_bytes": -5}, "between"),
        ({"tool_call": tool_call(command="ls", cwd="/")}, "unexpected field 'cwd'"),
        ({"tool_call": tool_call(command=5)}, "`command` must be a string"),
        ({"tool_call": tool_call(restart="yes")}, "`restart` must be true or false"),
        ({"tool_call": tool_call()}, "needs `command`"),
        ({"tool_call": tool_call("bash_2019", command="ls")}, "unknown tool_type"),
        ({"tool_call": tool_call(command=math.nan)}, "`command` is nan"),
        ({"tool_call": tool_call(command="ls", restart=-math.inf)}, "`restart` is -inf"),
        ({"tool_call": tool_call(command="ls", x={"y": [1, math.inf]})}, "`x.y[1]` is inf"),
        *(
            ({"command": shell_pb2.BashCommand(command="ls"), "version": v}, f"version {v};")
            for v in (3, 99, -1)
        ),
        ({"tool_call": tool_call(command="ls"), "version": 3}, "unknown bash tool version 3"),
        ({"tool_call": tool_call("", command="ls"), "version": -1}, "allowed: 0 (unspecified"),
        (
            {
                "tool_call": tool_call("bash_20241022", command="ls"),
                "version": common_pb2.BASH_TOOL_VERSION_20250124,
            },
            "contradicts",
        ),
    ],
)
async def test_bad_requests_are_invalid_argument(
    shell: ShellHandle, request_fields: dict[str, object], message: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await shell.stub.Bash(shell_pb2.BashRequest(**request_fields))
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in error.value.details()


async def test_closing_the_service_kills_the_shell_family(tmp_path: Path) -> None:
    async with running_shell(tmp_path) as handle:
        started = await bash(handle, "sleep 100 & echo $$ $!")
    assert await wait_dead([int(pid) for pid in started.stdout.split()]) == []
