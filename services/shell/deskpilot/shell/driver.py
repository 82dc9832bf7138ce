"""The script the persistent bash runs, and the lines that drive it.

bash reads its script from its stdin pipe (`bash -s`), one line per command. A script
read from a pipe is read a byte at a time, never past the line being run, and each line
is a top-level command: that is what lets a timed-out command be abandoned whole.

Interrupting (`INTERRUPT_SIGNAL`, sent while the shell is frozen and after every process
the command started has been killed): the shell's handler starts one process that kills
itself with SIGINT. A non-interactive bash whose SIGINT is trapped, with job control on,
treats a foreground job dying of SIGINT inside a loop as its own interrupt, and an
interrupt abandons the top-level command at once: the rest of the line, later lines,
loops, functions, sourced files, without running an ERR, EXIT or CHLD trap. bash then
reads the next line, the recovery line, which restores what the handler changed and
prints the end markers. Should bash carry on instead, the handler kills it (never an
`exit`, which would run an EXIT trap); the service then starts a fresh shell.

A signal that arrives when no command is running (the race of a command ending at its
timeout) only cancels a command whose line bash has not started yet; the recovery line
clears that. The handler saves the traps it changes in a file of a private directory the
service makes while it interrupts: a command substitution would fork, and the child's end
would run a CHLD trap.

While the service interrupts, the file `interrupted_file` exists: a command that reaches
its end then, without the handler having run, replaced the shell's SIGUSR1 trap with its
own and went on; the shell kills itself rather than report a clean stop.

Every command line is parsed with alias expansion off (a user's `alias for=...` cannot
change the driver) and runs with the user's setting for it. The command itself is an
ANSI-C quoted word, so no byte of it is ever parsed as part of the line.
"""

from __future__ import annotations

import os
import re
import shlex
import signal

INTERRUPT_SIGNAL = signal.SIGUSR1
INTERRUPTED_STATUS = 130  # `$?` after an interrupted command, as after Ctrl-C

# The descriptors the driver keeps for itself; commands never see them.
_STDOUT, _STDERR, _INPUT = 4, 5, 6

_SCRIPT = r"""
exec @input@<&@input_fd@ @input_fd@<&- @stdout@>&1 @stderr@>&2
__dp_rc=0 __dp_busy= __dp_cancel= __dp_done= __dp_cmd= __dp_aliases=1
__dp_aborting= __dp_cancelled= __dp_traps= __dp_flags=
__dp_trap_file=@trap_file@ __dp_interrupted_file=@interrupted_file@
__dp_status() { return "$1"; }
__dp_begin() {
  __dp_busy=1
  __dp_cmd=$2
  __dp_cancelled=
  if [[ -n $__dp_cancel ]]; then
    __dp_cancel= __dp_cancelled=1 __dp_rc=@interrupted@
    return 1
  fi
  if [[ -n $__dp_aliases ]]; then builtin shopt -s expand_aliases; fi
}
__dp_settle() {
  if builtin shopt -q expand_aliases; then __dp_aliases=1; else __dp_aliases=; fi
  builtin shopt -u expand_aliases
  builtin trap '\__dp_interrupt' @signal@
  __dp_done=$1
  builtin printf '%s%d\n' "$1" "$__dp_rc" >&@stdout@
  builtin printf '%s%d\n' "$1" "$__dp_rc" >&@stderr@
}
__dp_end() {
  __dp_busy=
  # Interrupted, yet here without the handler having run: the command's own SIGUSR1 trap
  # replaced it and the command went on. Dying (no markers, no EXIT trap) has the
  # service restart the shell rather than report a clean stop.
  if [[ -e $__dp_interrupted_file && -z $__dp_cancel$__dp_cancelled ]]; then
    builtin kill -KILL $$
  fi
  __dp_settle "$1"
}
__dp_interrupt() {
  if [[ -z $__dp_busy ]]; then __dp_cancel=1; return 0; fi
  # Saved through a file: a command substitution would fork, and run a CHLD trap.
  builtin trap -p DEBUG RETURN INT >|"$__dp_trap_file" || :
  IFS= builtin read -r -d '' __dp_traps <"$__dp_trap_file" || :
  builtin trap - DEBUG RETURN
  builtin trap : INT
  __dp_flags=$-
  __dp_aborting=1
  builtin set -m
  for __dp_once in 1; do BASH_ENV= ENV= @interrupter@ -c 'builtin kill -INT $$' || :; done
  builtin kill -KILL $$
}
__dp_recover() {
  if [[ -n $__dp_aborting ]]; then
    __dp_aborting=
    builtin trap - INT
    case $__dp_flags in *m*) ;; *) builtin set +m ;; esac
  else
    __dp_traps=
  fi
  __dp_cancel=
  __dp_busy=
  if [[ $__dp_done != "$1" ]]; then
    __dp_rc=@interrupted@
    __dp_settle "$1"
  fi
}
builtin shopt -u expand_aliases
builtin trap '\__dp_interrupt' @signal@
"""

# Runs at the top level, not in a function: `declare` and `local` keep their meaning.
# `&& :` sets `$?` for the command without tripping `set -e`; the one-pass loop absorbs
# a stray `break`; the command gets the input pipe and fresh stdout/stderr each time
# (an `exec >&-` lasts one call) and none of the driver's descriptors.
_COMMAND_LINE = (
    r"\__dp_begin @token@ @command@ && { __dp_status "
    r'"$__dp_rc" && :; for __dp_once in 1; do builtin eval "$__dp_cmd"; done '
    r"0<&@input@ 1>&@stdout@ 2>&@stderr@ @stdout@>&- @stderr@>&- @input@<&-; "
    r"__dp_rc=$?; }; \__dp_end @token@"
    "\n"
)
# The traps are put back last, after the driver's own function calls, so the user's
# DEBUG and RETURN traps do not run for them.
_RECOVERY_LINE = r'\__dp_recover @token@; builtin eval "$__dp_traps"' + "\n"

_PLACEHOLDER = re.compile(r"@(\w+)@")
_ESCAPES = re.compile(r"[\x00-\x1f\x7f\\']")
_FDS = {"stdout": _STDOUT, "stderr": _STDERR, "input": _INPUT}


def script(input_fd: int, private_dir: str, interrupter: str) -> bytes:
    """The driver, given the inherited input pipe (above 9), the private directory that
    exists while the service interrupts (see `interrupted_file`) and bash's own path."""
    if input_fd < 10:
        raise ValueError("the input pipe's descriptor must be above the driver's own (0-9)")
    return _filled(
        _SCRIPT,
        input_fd=input_fd,
        trap_file=shlex.quote(os.path.join(private_dir, "traps")),
        interrupted_file=shlex.quote(interrupted_file(private_dir)),
        interrupter=shlex.quote(interrupter),
        signal=INTERRUPT_SIGNAL.name.removeprefix("SIG"),
        interrupted=INTERRUPTED_STATUS,
    )


def interrupted_file(private_dir: str) -> str:
    """The file that exists while the service interrupts the shell."""
    return os.path.join(private_dir, "interrupted")


def command_line(token: bytes, command: str) -> bytes:
    """The line that runs `command` and then prints `token` with its status."""
    return _filled(_COMMAND_LINE, token=token.decode(), command=ansi_c_quoted(command))


def recovery_line(token: bytes) -> bytes:
    """The line sent after an interrupt: prints the markers unless the command did."""
    return _filled(_RECOVERY_LINE, token=token.decode())


def ansi_c_quoted(text: str) -> str:
    """`text` as one bash `$'...'` word on one line: control characters as `\\xHH`,
    backslash and quote escaped, everything else (UTF-8 included) as it is."""
    return "$'" + _ESCAPES.sub(lambda match: _escape(match.group()), text) + "'"


def _escape(char: str) -> str:
    return "\\" + char if char in "\\'" else f"\\x{ord(char):02x}"


def _filled(template: str, **values: object) -> bytes:
    """`template` with each `@name@` replaced in one pass (bash's braces and dollars stay)."""
    values = {**_FDS, **values}
    return _PLACEHOLDER.sub(lambda match: str(values[match.group(1)]), template).encode()
