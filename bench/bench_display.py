"""Benchmark: the display executor against what the reference implementation does.

On one X display (started here), in the same run:

- baseline (Anthropic's reference computer tool): one `xdotool` process per action,
  `scrot` to a file plus ImageMagick `convert -resize` when scaling, a fixed 2.0 s sleep
  before the screenshot that follows a click, `xdotool type --delay 12` in chunks of 50
  characters followed by a screenshot;
- ours: the Display gRPC service in its own process (`python -m deskpilot.display`).

Scenarios: an idle desktop, and a terminal that keeps scrolling. Prints medians, ratios
(baseline / ours) and the executor's memory (RSS).

    python bench/bench_display.py [--mode xvfb|xvnc] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from deskpilot.common.grpc_client import open_channel, wait_until_serving
from deskpilot.sandbox.xserver import XServer, XServerConfig, free_port
from deskpilot.v1 import common_pb2, display_pb2, display_pb2_grpc

WIDTH, HEIGHT = 1920, 1080  # scaled to 1366x768 by both (the reference's XGA/WXGA logic)
SCALED = (1366, 768)
REFERENCE_DELAY_SECONDS = 2.0
TYPING_DELAY_MS = 12
TYPING_CHUNK = 50
TEXT_50 = "The quick brown fox jumps over the lazy dog 012345"
IMAGEMAGICK_CONVERT = "/usr/bin/convert"  # not a stand-in `convert` earlier on PATH


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


class Baseline:
    """The reference implementation's way, one process per step, files on disk."""

    def __init__(self, env: dict[str, str], outdir: Path) -> None:
        self.env = env
        self.outdir = outdir
        self.count = 0

    def _run(self, *argv: str) -> None:
        subprocess.run(argv, env=self.env, check=True, capture_output=True)

    def screenshot(self) -> bytes:
        self.count += 1
        path = self.outdir / f"screenshot_{self.count}.png"
        self._run("scrot", "-p", "-o", str(path))
        self._run(IMAGEMAGICK_CONVERT, str(path), "-resize", f"{SCALED[0]}x{SCALED[1]}!", str(path))
        data = path.read_bytes()
        return data

    def click(self, x: int, y: int) -> bytes:
        self._run("xdotool", "mousemove", "--sync", str(x), str(y), "click", "1")
        time.sleep(REFERENCE_DELAY_SECONDS)
        return self.screenshot()

    def type(self, text: str) -> bytes:
        for i in range(0, len(text), TYPING_CHUNK):
            chunk = text[i : i + TYPING_CHUNK]
            self._run("xdotool", "type", "--delay", str(TYPING_DELAY_MS), "--", chunk)
        return self.screenshot()


class Ours:
    """The Display service in its own process."""

    def __init__(self, stub: display_pb2_grpc.DisplayStub) -> None:
        self.stub = stub
        self.space = display_pb2.ScreenSpace(mode=display_pb2.SCALING_MODE_AUTO)

    async def screenshot(self, fresh: bool = False) -> bytes:
        # Alternating the encoding defeats the executor's cache of the last encoding.
        self.flip = not getattr(self, "flip", False)
        quality = (1 if self.flip else 2) if fresh else 0
        options = display_pb2.ScreenshotOptions(quality=quality)
        if fresh:
            options.format = common_pb2.IMAGE_FORMAT_PNG
            # PNG ignores quality, but it is part of the cache key.
        reply = await self.stub.Screenshot(
            display_pb2.ScreenshotRequest(screen_space=self.space, options=options)
        )
        return reply.image.data

    async def click(self, x: int, y: int) -> bytes:
        action = display_pb2.ComputerAction(
            left_click=display_pb2.ClickAction(coordinate=common_pb2.Point(x=x, y=y))
        )
        reply = await self.stub.Act(
            display_pb2.ActRequest(action=action, screen_space=self.space, return_screenshot=True)
        )
        return reply.screenshot.data

    async def type(self, text: str) -> bytes:
        action = display_pb2.ComputerAction(type=display_pb2.TypeAction(text=text))
        reply = await self.stub.Act(
            display_pb2.ActRequest(action=action, screen_space=self.space, return_screenshot=True)
        )
        return reply.screenshot.data


def time_sync(fn: Callable[[], object], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return samples


async def time_async(fn: Callable[[], Awaitable[object]], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await fn()
        samples.append(time.perf_counter() - started)
    return samples


def rss_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) of a process in MiB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]


def start_terminal(env: dict[str, str], geometry: str, command: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        ["xterm", "-geometry", geometry, "-e", "sh", "-c", command],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def scenario(
    name: str, baseline: Baseline, ours: Ours, runs: int, baseline_runs: int
) -> list[tuple[str, float, float]]:
    rows = []
    # Warm up both paths once (first encodes, page cache for the binaries).
    baseline.screenshot()
    await ours.screenshot()
    ours_shot = await time_async(ours.screenshot, runs * 2)
    base_shot = await asyncio.to_thread(time_sync, baseline.screenshot, runs * 2)
    rows.append((f"{name}: screenshot", median_ms(base_shot), median_ms(ours_shot)))
    if name == "idle":  # without the unchanged-frame cache: every request encodes
        ours_fresh = await time_async(lambda: ours.screenshot(fresh=True), runs * 2)
        rows.append((f"{name}: screenshot, encode every time", median_ms(base_shot),
                     median_ms(ours_fresh)))  # fmt: skip

    # Alternate two spots: clicking the spot the pointer is already on can stall xdotool
    # `mousemove --sync` for ~15 s (the reference's trap), which would flatter us.
    spots = iter([(300, 300), (340, 320)] * (runs + baseline_runs + 2))
    await ours.click(*next(spots))  # learn any background churn first, as in a session
    ours_click = await time_async(lambda: ours.click(*next(spots)), runs)
    base_click = await asyncio.to_thread(
        time_sync, lambda: baseline.click(*next(spots)), baseline_runs
    )
    rows.append((f"{name}: left_click + screenshot", median_ms(base_click), median_ms(ours_click)))

    # Type into the `cat > /dev/null` terminal (pointer over it: focus follows the pointer).
    await ours.click(200, 150)
    ours_type = await time_async(lambda: ours.type(TEXT_50), runs)
    base_type = await asyncio.to_thread(time_sync, lambda: baseline.type(TEXT_50), baseline_runs)
    rows.append((f"{name}: type 50 chars + screenshot", median_ms(base_type), median_ms(ours_type)))
    return rows


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=["xvfb", "xvnc"], default="xvfb")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--baseline-runs", type=int, default=3)
    args = parser.parse_args()
    for tool in ("xdotool", "scrot", "xterm", IMAGEMAGICK_CONVERT):
        if not shutil.which(tool):
            sys.exit(f"{tool} is needed for the baseline")

    with (
        tempfile.TemporaryDirectory() as tmp,
        XServer(XServerConfig(mode=args.mode, width=WIDTH, height=HEIGHT)) as x,
    ):
        env = x.env()
        os.environ["XAUTHORITY"] = env["XAUTHORITY"]
        port = free_port()
        executor = subprocess.Popen(  # noqa: ASYNC220 - started once, before timing
            [sys.executable, "-m", "deskpilot.display", "--display", x.display,
             "--port", str(port), "--log-level", "warning"],
            env=env,
        )  # fmt: skip
        terminals = [start_terminal(env, "80x24+0+0", "exec cat > /dev/null")]
        try:
            await wait_until_serving(f"127.0.0.1:{port}", service="deskpilot.v1.Display")
            await asyncio.sleep(1.0)  # let the terminal map before the first screenshot
            async with open_channel(f"127.0.0.1:{port}") as channel:
                ours = Ours(display_pb2_grpc.DisplayStub(channel))
                baseline = Baseline(env, Path(tmp))
                rows = await scenario("idle", baseline, ours, args.runs, args.baseline_runs)
                terminals.append(
                    start_terminal(
                        env, "100x40+900+100", "while :; do date +%T.%N; sleep 0.03; done"
                    )
                )
                await asyncio.sleep(2.5)  # until the terminal is full and scrolls every line
                rows += await scenario("scrolling", baseline, ours, args.runs, args.baseline_runs)
                rss, peak = rss_mb(executor.pid)
        finally:
            for process in (*terminals, executor):
                process.terminate()
                process.wait(timeout=10)

    print(f"\nDisplay executor vs reference baseline, {args.mode}, {WIDTH}x{HEIGHT} -> "
          f"{SCALED[0]}x{SCALED[1]}, medians")  # fmt: skip
    print(f"{'case':44} {'baseline ms':>12} {'ours ms':>10} {'ratio':>8}")
    for case, base, ours_ms in rows:
        print(f"{case:44} {base:12.1f} {ours_ms:10.1f} {base / ours_ms:7.1f}x")
    print(f"\nexecutor RSS: {rss:.1f} MiB now, {peak:.1f} MiB peak")


if __name__ == "__main__":
    asyncio.run(main())
