"""Benchmark: sandbox start-to-ready, and TigerVNC Xvnc against Xvfb + x11vnc.

For each X server mode, starts the whole sandbox (`python -m deskpilot.sandbox`: X + VNC,
openbox, tint2, display and shell executors) several times and measures the time until
it reports ready; then, on a running sandbox, the display executor's capture and encode
times (screenshot action) and the memory of the X and VNC processes. Ratios are Xvnc
(baseline) over Xvfb + x11vnc, measured in the same run.

    python bench/bench_sandbox.py [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from deskpilot.common.grpc_client import open_channel
from deskpilot.common.processes import PIPE, PopenChild, spawn
from deskpilot.common.sandbox_ready import parse_ready_line
from deskpilot.common.sandbox_user import sandbox_python
from deskpilot.v1 import common_pb2, display_pb2, display_pb2_grpc, session_pb2

MODES = ("xvnc", "xvfb")


def start(mode: str, workdir: Path) -> tuple[PopenChild, session_pb2.SandboxReady, float]:
    workdir.chmod(0o711)  # the sandbox user (as root: never root itself) must enter it
    started = time.perf_counter()
    sandbox = spawn("sandbox", [
        sys.executable, "-m", "deskpilot.sandbox", "--x-server", mode,
        "--executor-python", sandbox_python(),
        "--home", str(workdir / "home"), "--workdir", str(workdir / "work"),
        "--log-level", "warning",
    ], stdout=PIPE)  # fmt: skip
    line = sandbox.popen.stdout.readline()  # type: ignore[union-attr]
    elapsed = time.perf_counter() - started
    report = parse_ready_line(line)
    if report is None:
        sandbox.wait()
        sys.exit(f"sandbox ({mode}) did not start")
    return sandbox, report, elapsed


def children_rss_mb(pid: int, names: tuple[str, ...]) -> float:
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            status = (entry / "status").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid and comm in names:
            for line in status.splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
    return total


async def capture_times(address: str, runs: int) -> tuple[float, float]:
    """Median capture and encode ms of the screenshot action (encoding forced each time)."""
    captures, encodes = [], []
    async with open_channel(address) as channel:
        stub = display_pb2_grpc.DisplayStub(channel)
        for i in range(runs):
            # Alternating formats defeats the executor's cache of the last encoding.
            fmt = common_pb2.IMAGE_FORMAT_PNG if i % 2 else common_pb2.IMAGE_FORMAT_JPEG
            reply = await stub.Act(
                display_pb2.ActRequest(
                    action=display_pb2.ComputerAction(screenshot=display_pb2.ScreenshotAction()),
                    screenshot_options=display_pb2.ScreenshotOptions(format=fmt),
                )
            )
            captures.append(reply.timing.capture_ms)
            if fmt == common_pb2.IMAGE_FORMAT_PNG:
                encodes.append(reply.timing.encode_ms)
    return statistics.median(captures), statistics.median(encodes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    for mode in MODES:
        starts, reported = [], []
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory() as tmp:
                process, report, elapsed = start(mode, Path(tmp))
                process.stop_blocking(30)
            starts.append(elapsed)
            reported.append(report.start_seconds)
        with tempfile.TemporaryDirectory() as tmp:
            process, report, _ = start(mode, Path(tmp))
            try:
                capture, encode = asyncio.run(capture_times(report.endpoints.display_address, 20))
                rss = children_rss_mb(process.pid, ("Xvnc", "Xvfb", "x11vnc"))
            finally:
                process.stop_blocking(30)
        results[mode] = {
            "start": statistics.median(starts) * 1000,
            "ready": statistics.median(reported) * 1000,
            "capture": capture,
            "encode": encode,
            "rss": rss,
        }

    print(f"\nSandbox, 1280x800, medians ({args.runs} starts per mode; 20 screenshots)")
    print(f"{'measure':40} {'Xvnc':>10} {'Xvfb+x11vnc':>12} {'Xvnc/Xvfb':>10}")
    labels = {
        "start": "process start to ready line (ms)",
        "ready": "start to ready, as reported (ms)",
        "capture": "executor capture (ms)",
        "encode": "executor PNG encode (ms)",
        "rss": "X + VNC server RSS (MiB)",
    }
    for key, label in labels.items():
        a, b = results["xvnc"][key], results["xvfb"][key]
        print(f"{label:40} {a:10.1f} {b:12.1f} {a / b:9.2f}x")


if __name__ == "__main__":
    main()
