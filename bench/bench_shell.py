"""Benchmark of the shell executor against a naive baseline, measured in the same run.

- bash: `echo hi` through gRPC into the persistent shell, against a fresh `bash -c`
  per command (what a stateless executor does);
- editor: view and str_replace of a 5 000-line file through gRPC, against reading it
  with `bash -c cat` and rewriting it whole with `bash -c 'cat > file'` per command.

Prints medians, ratios (baseline / deskpilot) and memory (RSS). Targets: a bash round
trip under 5 ms median, an edit of a 5 000-line file under 10 ms median.

Run: python bench/bench_shell.py [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import grpc
from executors import WithCredential, spawn_executor  # bench/executors.py

from deskpilot.common.grpc_client import wait_until_serving
from deskpilot.common.net import free_port
from deskpilot.common.processes import PopenChild
from deskpilot.common.readiness import until_ready
from deskpilot.v1 import shell_pb2, shell_pb2_grpc

LINES = 5000


def median_ms(action: Callable[[], object], rounds: int, warmup: int = 5) -> float:
    for _ in range(warmup):
        action()
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_service(root: Path) -> tuple[PopenChild, str, str]:
    port = free_port()
    env = dict(os.environ, DESKPILOT_SHELL_ROOTS=f'["{root}"]', DESKPILOT_LOG_LEVEL="warning")
    service, credential = spawn_executor(
        "shell executor",
        [sys.executable, "-m", "deskpilot.shell", "--port", str(port), "--working-dir", str(root)],
        env=env,
    )
    address = f"127.0.0.1:{port}"
    serving = wait_until_serving(address, service="deskpilot.v1.Shell", timeout=30)
    asyncio.run(until_ready(service, serving, timeout=30))
    return service, address, credential


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200, help="timed repetitions per case")
    rounds = parser.parse_args().rounds

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        service, address, credential = start_service(root)
        try:
            with grpc.insecure_channel(address) as channel:
                stub = WithCredential(shell_pb2_grpc.ShellStub(channel), credential)
                run_cases(stub, root, rounds, service.pid)
        finally:
            service.stop_blocking(10)


def run_cases(stub: shell_pb2_grpc.ShellStub, root: Path, rounds: int, service_pid: int) -> None:
    echo = shell_pb2.BashRequest(command=shell_pb2.BashCommand(command="echo hi"))
    assert stub.Bash(echo).stdout == "hi\n"
    results = {
        "bash `echo hi`": (
            median_ms(lambda: stub.Bash(echo), rounds),
            median_ms(
                lambda: subprocess.run(["bash", "-c", "echo hi"], capture_output=True), rounds
            ),
        )
    }

    path = root / "big.py"
    path.write_text("".join(f"line_{i} = {i}  # some code here\n" for i in range(LINES)))
    view = shell_pb2.EditRequest(
        command=shell_pb2.EditCommand(view=shell_pb2.ViewCommand(path=str(path)))
    )
    ranged = shell_pb2.EditRequest(
        command=shell_pb2.EditCommand(
            view=shell_pb2.ViewCommand(
                path=str(path), view_range=shell_pb2.LineRange(start=2400, end=2440)
            )
        )
    )
    flip = [False]

    def replace_request() -> shell_pb2.EditRequest:
        # Alternate between two texts so every call really edits the file.
        flip[0] = not flip[0]
        old, new = (
            ("line_2500 = 2500", "line_2500 = 0")
            if flip[0]
            else ("line_2500 = 0", "line_2500 = 2500")
        )
        return shell_pb2.EditRequest(
            command=shell_pb2.EditCommand(
                str_replace=shell_pb2.StrReplaceCommand(path=str(path), old_str=old, new_str=new)
            )
        )

    def baseline_view() -> None:
        subprocess.run(
            ["bash", "-c", 'cat -n "$1"', "_", str(path)], capture_output=True, check=True
        )

    def baseline_replace() -> None:
        text = subprocess.run(
            ["bash", "-c", 'cat "$1"', "_", str(path)], capture_output=True, check=True, text=True
        ).stdout
        flip[0] = not flip[0]
        old, new = (
            ("line_2500 = 2500", "line_2500 = 0")
            if flip[0]
            else ("line_2500 = 0", "line_2500 = 2500")
        )
        subprocess.run(
            ["bash", "-c", 'cat > "$1"', "_", str(path)],
            input=text.replace(old, new, 1),
            check=True,
            text=True,
        )

    results[f"view {LINES}-line file"] = (
        median_ms(lambda: stub.Edit(view), rounds),
        median_ms(baseline_view, rounds),
    )
    results[f"view_range 40 of {LINES} lines"] = (
        median_ms(lambda: stub.Edit(ranged), rounds),
        median_ms(baseline_view, rounds),
    )
    results[f"str_replace in {LINES}-line file"] = (
        median_ms(lambda: stub.Edit(replace_request()), rounds),
        median_ms(baseline_replace, rounds),
    )

    print(f"{'case':36} {'deskpilot ms':>13} {'baseline ms':>12} {'ratio':>7}")
    for case, (ours, baseline) in results.items():
        print(f"{case:36} {ours:13.2f} {baseline:12.2f} {baseline / ours:6.1f}x")
    print(
        f"targets: bash < 5 ms -> {'met' if results['bash `echo hi`'][0] < 5 else 'MISSED'}; "
        f"str_replace < 10 ms -> "
        f"{'met' if results[f'str_replace in {LINES}-line file'][0] < 10 else 'MISSED'}"
    )
    service_mb, client_mb = rss_mb(service_pid), rss_mb(os.getpid())
    print(f"RSS: shell service {service_mb:.1f} MB, bench client {client_mb:.1f} MB")


if __name__ == "__main__":
    main()
