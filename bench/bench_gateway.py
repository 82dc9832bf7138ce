"""Benchmark: the gateway's desktop proxy (fan-out) against websockify, on one x11vnc.

One Xvfb + x11vnc desktop with a terminal scrolling as fast as it can (`ls -lR` in a
loop). For 1, 10 and 50 viewers, each side in turn: the gateway's DesktopHubs (fan-out,
one VNC connection per session, served from a child process of this script) and
websockify (PyPI; one VNC connection per viewer) in front of the same x11vnc. Viewers are
raw RFB clients in this process that ask for Raw and CopyRect and count updates without
decoding pixels. For each: what x11vnc spends (CPU seconds per second, bytes written per
second, from /proc), each viewer's updates per second, and the proxy's CPU and memory
per viewer. Prints ratios against one viewer and against websockify. Then input latency
on the idle desktop: a click from one viewer into a window that changes colour when
clicked, until a second viewer sees the new colour (p50, p95).

All viewers read in this one process: on a small machine, at 50 viewers that process
is the bottleneck for both sides (it also takes CPU from the X server and the terminal,
so the desktop itself draws fewer frames); compare the sides at the same viewer count.

    python bench/bench_gateway.py [--seconds 5] [--viewers 1,10,50]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.helpers

from Xlib import X

from deskpilot.common.net import free_port
from deskpilot.display.xconnection import open_display
from deskpilot.sandbox.xserver import XServer, XServerConfig
from tests.helpers.rfb_client import COPY_RECT, RAW, RfbClient

WIDTH, HEIGHT = 1280, 800
TICKS = os.sysconf("SC_CLK_TCK")
BENCH_ENCODINGS = (COPY_RECT, RAW)


# --- the gateway, served from a child process (its CPU and memory are its own) ----------


def serve_gateway(port: int, vnc_port: int, password: str) -> None:
    from deskpilot.gateway.desktop import DesktopAccess, DesktopHubs, Viewer
    from tests.helpers.rfb_client import serving

    # The readiness probe is a bare TCP connect; websockets would log it as a bad request.
    logging.getLogger("websockets.server").setLevel(logging.CRITICAL)

    async def main() -> None:
        access = DesktopAccess(f"127.0.0.1:{vnc_port}", password, "bench")

        async def lookup(session_id: str) -> DesktopAccess:
            return access

        hubs = DesktopHubs(lookup)
        async with serving(hubs, {"v": Viewer("v", True)}, port=port):
            await hubs.set_controller("bench", "v")
            await asyncio.Event().wait()

    asyncio.run(main())


# --- /proc ------------------------------------------------------------------------------


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


def rss_mib(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def written_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    return 0


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants (websockify forks one process per connection)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo += children.get(current, [])
    return out


# --- one measurement --------------------------------------------------------------------


@dataclass
class Sample:
    viewers: int
    vnc_cpu: float  # CPU seconds per second
    vnc_bytes: float  # bytes written per second
    fps: float  # mean updates per second per viewer
    fps_min: float
    proxy_cpu: float
    proxy_rss: float  # MiB


async def measure(
    url: str, n: int, seconds: float, vnc_pid: int, proxy: int, password: str | None
) -> Sample:
    clients = [
        await RfbClient.connect(url, encodings=BENCH_ENCODINGS, password=password) for _ in range(n)
    ]
    for client in clients:
        client.decode = False
    await asyncio.gather(*(c.first_screen(timeout=60) for c in clients))
    await asyncio.gather(*(c.read_for(1.0) for c in clients))  # warm up
    before = [c.updates for c in clients]
    proxy_pids = process_tree(proxy)
    cpu0, vnc0, bytes0, t0 = (
        cpu_seconds(proxy_pids),
        cpu_seconds([vnc_pid]),
        written_bytes(vnc_pid),
        time.monotonic(),
    )
    await asyncio.gather(*(c.read_for(seconds) for c in clients))
    elapsed = time.monotonic() - t0
    proxy_pids = process_tree(proxy)
    rates = [(c.updates - b) / elapsed for c, b in zip(clients, before, strict=True)]
    sample = Sample(
        n,
        (cpu_seconds([vnc_pid]) - vnc0) / elapsed,
        (written_bytes(vnc_pid) - bytes0) / elapsed,
        statistics.mean(rates),
        min(rates),
        (cpu_seconds(proxy_pids) - cpu0) / elapsed,
        rss_mib(proxy_pids),
    )
    for client in clients:
        await client.close()
    await asyncio.sleep(1.0)
    return sample


# --- input latency ----------------------------------------------------------------------


class ClickWindow:
    """A window that swaps between two colours on every click (its own X connection)."""

    COLOURS = (0x2040A0, 0xE0C020)

    def __init__(self, display: str, x: int, y: int, size: int) -> None:
        self.conn = open_display(display)
        screen = self.conn.screen()
        self.window = screen.root.create_window(
            x, y, size, size, 0, screen.root_depth, X.InputOutput, X.CopyFromParent,
            background_pixel=self.COLOURS[0], override_redirect=True,
            event_mask=X.ButtonPressMask | X.ExposureMask,
        )  # fmt: skip
        self.window.map()
        self.conn.sync()
        self.state = 0
        self._running = True
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self) -> None:
        try:
            self._handle_clicks()
        except Exception:  # noqa: BLE001 - the X server went away at the end of the run
            return

    def _handle_clicks(self) -> None:
        while self._running:
            event = self.conn.next_event()
            if event.type == X.ButtonPress:
                self.state ^= 1
                self.window.change_attributes(background_pixel=self.COLOURS[self.state])
                self.window.clear_area()
                self.conn.flush()

    def close(self) -> None:
        self._running = False


async def input_latency(url: str, x: XServer, clicks: int) -> list[float]:
    os.environ["XAUTHORITY"] = str(x.xauthority)
    window = ClickWindow(x.display, 100, 100, 80)
    await asyncio.sleep(0.5)
    driver = await RfbClient.connect(url, encodings=BENCH_ENCODINGS)
    watcher = await RfbClient.connect(url, encodings=BENCH_ENCODINGS)
    await watcher.first_screen()
    samples = []
    for _ in range(clicks):
        colour = tuple(watcher.rgb()[140, 140])
        started = time.monotonic()
        await driver.pointer(140, 140, mask=1)
        await driver.pointer(140, 140, mask=0)
        await watcher.read_until(lambda c, was=colour: tuple(c.rgb()[140, 140]) != was)
        samples.append(time.monotonic() - started)
        await asyncio.sleep(0.1)
    window.close()
    return samples


# --- the run ----------------------------------------------------------------------------


async def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


async def run(args: argparse.Namespace) -> None:
    counts = [int(n) for n in args.viewers.split(",")]
    with XServer(XServerConfig(mode="xvfb", width=WIDTH, height=HEIGHT)) as x:
        vnc_pid = x.pids[-1]
        gateway_port, websockify_port = free_port("127.0.0.1"), free_port("127.0.0.1")
        gateway = subprocess.Popen(  # noqa: ASYNC220 - started once, before measuring
            [
                sys.executable,
                __file__,
                "--serve",
                str(gateway_port),
                str(x.vnc_port),
                x.vnc_password,
            ]
        )
        websockify = subprocess.Popen(  # noqa: ASYNC220
            [str(Path(sys.executable).with_name("websockify")), f"127.0.0.1:{websockify_port}",
             f"127.0.0.1:{x.vnc_port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        terminal = subprocess.Popen(  # noqa: ASYNC220
            ["xterm", "-geometry", "100x40+0+0", "-e", "sh", "-c", "while :; do ls -lR /usr; done"],
            env=x.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            for port in (gateway_port, websockify_port):
                await wait_for_port(port)
            await asyncio.sleep(1.0)  # the terminal is scrolling
            sides = {
                "gateway": (f"ws://127.0.0.1:{gateway_port}/bench?viewer=v", gateway.pid, None),
                "websockify": (
                    f"ws://127.0.0.1:{websockify_port}/",
                    websockify.pid,
                    x.vnc_password,
                ),
            }
            results: dict[str, list[Sample]] = {name: [] for name in sides}
            for n in counts:
                for name, (url, pid, password) in sides.items():
                    results[name].append(
                        await measure(url, n, args.seconds, vnc_pid, pid, password)
                    )
            terminal.terminate()
            terminal.wait()
            await asyncio.sleep(1.0)
            latency = await input_latency(sides["gateway"][0], x, args.clicks)
        finally:
            for child in (terminal, gateway, websockify):
                child.terminate()
                child.wait()
    report(results, latency)


def report(results: dict[str, list[Sample]], latency: list[float]) -> None:
    print(f"{'side':<11}{'viewers':>8}{'vnc cpu':>9}{'vnc MB/s':>10}{'fps/viewer':>11}"
          f"{'min fps':>9}{'proxy cpu':>10}{'proxy MiB':>10}")  # fmt: skip
    for name, samples in results.items():
        for s in samples:
            print(f"{name:<11}{s.viewers:>8}{s.vnc_cpu:>9.2f}{s.vnc_bytes / 1e6:>10.1f}"
                  f"{s.fps:>11.1f}{s.fps_min:>9.1f}{s.proxy_cpu:>10.2f}"
                  f"{s.proxy_rss:>10.1f}")  # fmt: skip
    ours, base = results["gateway"], results["websockify"]
    one, most = ours[0], ours[-1]
    print()
    print(f"gateway, {most.viewers} viewers against 1:")
    print(f"  x11vnc CPU {ratio(most.vnc_cpu, one.vnc_cpu)} (target <= 1.2x), "
          f"x11vnc bytes {ratio(most.vnc_bytes, one.vnc_bytes)} (target <= 1.2x)")  # fmt: skip
    print(f"  frame rate per viewer {most.fps / one.fps:.0%} of one viewer's (target >= 90%), "
          f"slowest viewer {most.fps_min / one.fps:.0%}")  # fmt: skip
    if most.viewers > one.viewers:
        extra = most.viewers - one.viewers
        per_cpu = (most.proxy_cpu - one.proxy_cpu) / extra
        per_mib = (most.proxy_rss - one.proxy_rss) / extra
        print(f"  per extra viewer: gateway CPU {per_cpu:.3f} s/s, memory {per_mib:.2f} MiB "
              "(target <= 2 MiB)")  # fmt: skip
    print(f"websockify, {base[-1].viewers} viewers against 1: x11vnc CPU "
          f"{ratio(base[-1].vnc_cpu, base[0].vnc_cpu)}, x11vnc bytes "
          f"{ratio(base[-1].vnc_bytes, base[0].vnc_bytes)}")  # fmt: skip
    print(f"at {most.viewers} viewers, websockify / gateway: x11vnc CPU "
          f"{ratio(base[-1].vnc_cpu, most.vnc_cpu)}, proxy CPU "
          f"{ratio(base[-1].proxy_cpu, most.proxy_cpu)}, fps per viewer "
          f"{ratio(base[-1].fps, most.fps)}")  # fmt: skip
    ms = sorted(t * 1000 for t in latency)
    print(f"input latency (click by one viewer -> pixels at another, idle desktop): "
          f"p50 {statistics.median(ms):.1f} ms, p95 {ms[int(0.95 * (len(ms) - 1))]:.1f} ms "
          "(target p50 <= 50 ms)")  # fmt: skip


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--serve":
        serve_gateway(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--viewers", default="1,10,50")
    parser.add_argument("--clicks", type=int, default=20)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
