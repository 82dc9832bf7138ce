"""Prometheus metrics of the shell executor."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

COMMAND_SECONDS = Histogram(
    "deskpilot_shell_command_seconds",
    "Time to run one bash command or editor command, by tool and command.",
    ["tool", "command"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5, 30, 120, 600),
)
BASH_TIMEOUTS = Counter(
    "deskpilot_shell_bash_timeouts_total", "Bash commands killed because they timed out."
)
BASH_INPUT_WAITS = Counter(
    "deskpilot_shell_bash_input_waits_total",
    "Bash commands stopped because they waited for input on stdin.",
)
BASH_RESTARTS = Counter(
    "deskpilot_shell_bash_restarts_total",
    "Shell restarts, by reason (requested, timeout, exited).",
    ["reason"],
)
REPLAYS = Counter(
    "deskpilot_shell_replays_total", "Results replayed for a repeated idempotency key.", ["tool"]
)
