"""Benchmark: the gateway's desktop proxy (fan-out) against websockify, on one x11vnc.

One Xvfb + x11vnc desktop with a terminal scrolling as fast as it can (`ls -lR` in a
loop). For 1, 10 and 50 viewers, each side in turn: the gateway's DesktopHubs (fan-out,
one VNC connection per session, served from a child process of this script) and
websockify (PyPI; one VNC connection per viewer) in front of the same x11vnc.

The viewers cost what browsers that keep up would cost the proxy, and little of the
machine: each parses websocket and RFB framing only (tests/helpers/rfb_counter.py),
skips pixels without decoding them, and asks for the next update when one has ended,
as noVNC does; they are spread over a few child processes. For each: what x11vnc
spends (CPU seconds per second, bytes written per second, from /proc), each viewer's
updates per second, the proxy's CPU and memory per viewer and the viewers' own CPU, and
the updates x11vnc sent (the gateway's frame counter; through websockify, the viewers'
sum): how much of the desktop each viewer saw, apart from how fast the desktop drew.
The terminal's rate, hence x11vnc's, drifts with the machine's load, so the counts and
sides are measured in interleaved rounds and each figure is the median.
Then, with the viewers still connected, one decoding viewer checks pixels: the terminal
is paused and that viewer's screen must equal the X server's own.

Then input latency: a click from one viewer into a window that changes colour when
clicked (an X client in a child process), until a second, decoding viewer sees the new
colour (p50, p95), through each side, on the idle desktop and while the terminal scrolls.

The many viewers ask for Tight as noVNC does (the gateway compresses each change once
for all of them; x11vnc, behind websockify, once per viewer); `--encoding raw` measures
the case with the most bytes to send.

Not covered: a browser's own decoding and drawing (noVNC on a canvas), a real network
between browser and gateway (all on loopback), and a quiet machine: everything, the X
server included, shares its cores, so compare the sides at the same viewer count and
the ratios within a run.

    python bench/bench_gateway.py [--seconds 5] [--viewers 1,10,50] [--processes 2] [--rounds 3]
        [--encoding tight|raw]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.helpers

import numpy as np
from prometheus_client.parser import text_string_to_metric_families
from Xlib import X

from deskpilot.common.net import free_port
from deskpilot.display.xconnection import open_display
from deskpilot.sandbox.xserver import XServer, XServerConfig
from tests.helpers.rfb_client import COPY_RECT, CURSOR, RAW, TIGHT, RfbClient
from tests.helpers.rfb_counter import open_counting_viewer

WIDTH, HEIGHT = 1280, 800
TICKS = os.sysconf("SC_CLK_TCK")
# Cursor as noVNC asks for it: without it x11vnc paints the pointer into the pixels.
# The checking and clicking viewers decode, so they take the lossless Raw.
BENCH_ENCODINGS = (COPY_RECT, RAW, CURSOR)
# What the many viewers ask for: Tight first, with noVNC's default JPEG quality (6) and
# compression level (2), as noVNC does; or Raw, which costs the proxy no encoding but
# ten times the bytes to send.
VIEWER_ENCODINGS = {
    "tight": (COPY_RECT, TIGHT, RAW, CURSOR, -32 + 6, -256 + 2),
    "raw": BENCH_ENCODINGS,
}


# --- the gateway, served from a child process (its CPU and memory are its own) ----------


def serve_gateway(port: int, vnc_port: int, password: str, metrics_port: int) -> None:
    from prometheus_client import start_http_server

    from deskpilot.gateway.desktop import DesktopAccess, DesktopHubs, Viewer
    from tests.helpers.rfb_client import serving

    # Its frame counter tells how many updates the desktop itself sent in a sample.
    start_http_server(metrics_port, addr="127.0.0.1")

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


def desktop_updates(metrics_url: str) -> float:
    """Framebuffer updates the gateway has read from the desktop so far (its /metrics)."""
    with urllib.request.urlopen(metrics_url, timeout=5) as response:
        for family in text_string_to_metric_families(response.read().decode()):
            for sample in family.samples:
                if sample.name == "deskpilot_gateway_frames_total":
                    return sample.value
    return 0.0


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


# --- the viewers, in child processes ------------------------------------------------------


def run_viewers(url: str, count: int, password: str | None, encoding: str) -> None:
    """A child process: `count` counting viewers. Prints `ready` once all have their first
    screen; on `go` and `stop` (stdin) notes their update counts; then prints each
    viewer's updates per second in between as JSON, and on `end` leaves."""

    async def main() -> None:
        encodings = VIEWER_ENCODINGS[encoding]
        viewers = [await open_counting_viewer(url, password, encodings) for _ in range(count)]
        await asyncio.sleep(1.0)  # warm up
        lines = asyncio.StreamReader()
        loop = asyncio.get_running_loop()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(lines), sys.stdin)
        print("ready", flush=True)
        assert await lines.readline() == b"go\n"
        start, t0 = [v.updates for v in viewers], time.monotonic()
        assert await lines.readline() == b"stop\n"
        elapsed = time.monotonic() - t0
        rates = [(v.updates - s) / elapsed for v, s in zip(viewers, start, strict=True)]
        errors = [repr(v.error) for v in viewers if v.error is not None or v.closed.is_set()]
        print(json.dumps({"rates": rates, "errors": errors}), flush=True)
        await lines.readline()
        for viewer in viewers:
            viewer.close()

    asyncio.run(main())


class ViewerProcesses:
    """`n` counting viewers spread over up to `processes` child processes."""

    def __init__(
        self, url: str, n: int, processes: int, password: str | None, encoding: str
    ) -> None:
        self.args = (url, n, processes, password, encoding)
        self.children: list[asyncio.subprocess.Process] = []

    async def start(self) -> None:
        url, n, processes, password, encoding = self.args
        k = min(n, processes)
        for i in range(k):
            count = n // k + (1 if i < n % k else 0)
            child = await asyncio.create_subprocess_exec(
                sys.executable, __file__, "--run-viewers", url, str(count), password or "",
                encoding,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            )  # fmt: skip
            self.children.append(child)
        for child in self.children:
            assert child.stdout is not None
            line = await asyncio.wait_for(child.stdout.readline(), 120)
            if line != b"ready\n":
                raise RuntimeError(f"viewer process failed to start: {line!r}")

    async def tell(self, word: str) -> None:
        for child in self.children:
            assert child.stdin is not None
            child.stdin.write(f"{word}\n".encode())
            await child.stdin.drain()

    async def results(self) -> tuple[list[float], list[str]]:
        rates: list[float] = []
        errors: list[str] = []
        for child in self.children:
            assert child.stdout is not None
            result = json.loads(await child.stdout.readline())
            rates += result["rates"]
            errors += result["errors"]
        return rates, errors

    @property
    def pids(self) -> list[int]:
        return [child.pid for child in self.children]

    async def end(self) -> None:
        await self.tell("end")
        for child in self.children:
            await child.wait()


# --- one measurement --------------------------------------------------------------------


@dataclass
class Sample:
    viewers: int
    vnc_cpu: float  # CPU seconds per second
    vnc_bytes: float  # bytes written per second
    fps: float  # mean updates per second per viewer
    fps_min: float
    desktop_fps: float  # updates per second x11vnc sent (all its connections together)
    proxy_cpu: float
    proxy_rss: float  # MiB
    viewers_cpu: float  # the viewer processes' own CPU seconds per second
    pixels_ok: bool  # a decoding viewer's screen equals the X server's
    errors: int


@dataclass
class Side:
    name: str
    url: str
    pid: int
    password: str | None
    metrics_url: str | None  # the gateway's, where it counts the desktop's updates


async def measure(
    side: Side, n: int, args: argparse.Namespace, x: XServer, vnc_pid: int, terminal: int
) -> Sample:
    viewers = ViewerProcesses(side.url, n, args.processes, side.password, args.encoding)
    await viewers.start()
    proxy_pids = process_tree(side.pid)
    cpu0, vnc0, bytes0 = cpu_seconds(proxy_pids), cpu_seconds([vnc_pid]), written_bytes(vnc_pid)
    own0 = cpu_seconds(viewers.pids)
    updates0 = desktop_updates(side.metrics_url) if side.metrics_url else 0.0
    await viewers.tell("go")
    t0 = time.monotonic()
    await asyncio.sleep(args.seconds)
    await viewers.tell("stop")
    elapsed = time.monotonic() - t0
    updates = desktop_updates(side.metrics_url) - updates0 if side.metrics_url else None
    proxy_pids = process_tree(side.pid)
    proxy_cpu = (cpu_seconds(proxy_pids) - cpu0) / elapsed
    vnc_cpu = (cpu_seconds([vnc_pid]) - vnc0) / elapsed
    vnc_bytes = (written_bytes(vnc_pid) - bytes0) / elapsed
    viewers_cpu = (cpu_seconds(viewers.pids) - own0) / elapsed
    rss = rss_mib(proxy_pids)
    rates, errors = await viewers.results()
    # websockify opens one VNC connection per viewer: x11vnc sent each viewer's updates.
    desktop_fps = updates / elapsed if updates is not None else sum(rates)
    pixels_ok = await pixels_match(side, x, terminal)
    await viewers.end()
    await asyncio.sleep(1.0)
    return Sample(n, vnc_cpu, vnc_bytes, statistics.mean(rates), min(rates), desktop_fps,
                  proxy_cpu, rss, viewers_cpu, pixels_ok, len(errors))  # fmt: skip


async def pixels_match(side: Side, x: XServer, terminal: int) -> bool:
    """A decoding viewer joins the running ones; with the terminal paused, its screen
    must come to equal the X server's own pixels."""
    checker = await RfbClient.connect(side.url, encodings=BENCH_ENCODINGS, password=side.password)
    try:
        await checker.first_screen(timeout=60)
        await checker.read_for(1.0)
        os.kill(terminal, signal.SIGSTOP)
        try:
            await checker.read_for(1.5)  # what was drawn before the pause arrives
            expected = await asyncio.to_thread(screen_rgb, x)
            return bool((checker.rgb() == expected).all())
        finally:
            os.kill(terminal, signal.SIGCONT)
    finally:
        await checker.close()


def screen_rgb(x: XServer) -> np.ndarray:
    conn = open_display(x.display)
    try:
        data = conn.screen().root.get_image(0, 0, WIDTH, HEIGHT, X.ZPixmap, 0xFFFFFFFF).data
        return np.frombuffer(data, np.uint8).reshape(HEIGHT, WIDTH, 4)[:, :, 2::-1]
    finally:
        conn.close()


# --- input latency ----------------------------------------------------------------------

CLICK_X, CLICK_Y, CLICK_SIZE = 1120, 100, 80  # right of the terminal, never under it


def run_click_window(display: str) -> None:
    """A child process: a window that swaps between two colours on every click."""
    colours = (0x2040A0, 0xE0C020)
    conn = open_display(display)
    screen = conn.screen()
    window = screen.root.create_window(
        CLICK_X, CLICK_Y, CLICK_SIZE, CLICK_SIZE, 0, screen.root_depth, X.InputOutput,
        X.CopyFromParent, background_pixel=colours[0], override_redirect=True,
        event_mask=X.ButtonPressMask | X.ExposureMask,
    )  # fmt: skip
    window.map()
    conn.sync()
    print("ready", flush=True)
    state = 0
    while True:
        if conn.next_event().type == X.ButtonPress:
            state ^= 1
            window.change_attributes(background_pixel=colours[state])
            window.clear_area()
            conn.flush()


async def input_latency(side: Side, clicks: int) -> list[float]:
    """Seconds from a click by one viewer until another sees its pixels, per click."""
    driver = await RfbClient.connect(side.url, encodings=BENCH_ENCODINGS, password=side.password)
    watcher = await RfbClient.connect(side.url, encodings=BENCH_ENCODINGS, password=side.password)
    await watcher.first_screen(timeout=60)
    await watcher.read_for(0.5)
    x, y = CLICK_X + CLICK_SIZE // 2, CLICK_Y + CLICK_SIZE // 2
    spot = (y + CLICK_SIZE // 4, x + CLICK_SIZE // 4)  # in the window, away from the pointer
    samples = []
    for _ in range(clicks):
        colour = tuple(watcher.rgb()[spot])
        started = time.monotonic()
        await driver.pointer(x, y, mask=1)
        await driver.pointer(x, y, mask=0)
        try:
            await watcher.read_until(lambda c, was=colour: tuple(c.rgb()[spot]) != was)
        except TimeoutError:
            samples.append(float("inf"))  # never seen: counts as the slowest
            continue
        samples.append(time.monotonic() - started)
        await watcher.read_for(0.1)
    await driver.close()
    await watcher.close()
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


def start_terminal(x: XServer) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        ["xterm", "-geometry", "100x40+0+0", "-e", "sh", "-c", "while :; do ls -lR /usr; done"],
        env=x.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def stop(child: subprocess.Popen[bytes]) -> None:
    child.terminate()
    child.wait()


async def run(args: argparse.Namespace) -> None:
    counts = [int(n) for n in args.viewers.split(",")]
    with XServer(XServerConfig(mode="xvfb", width=WIDTH, height=HEIGHT)) as x:
        os.environ["XAUTHORITY"] = str(x.xauthority)
        vnc_pid = x.pids[-1]
        gateway_port, websockify_port = free_port("127.0.0.1"), free_port("127.0.0.1")
        metrics_port = free_port("127.0.0.1")
        gateway = subprocess.Popen(  # noqa: ASYNC220 - started once, before measuring
            [sys.executable, __file__, "--serve", str(gateway_port), str(x.vnc_port),
             x.vnc_password, str(metrics_port)]
        )  # fmt: skip
        websockify = subprocess.Popen(  # noqa: ASYNC220
            [str(Path(sys.executable).with_name("websockify")), f"127.0.0.1:{websockify_port}",
             f"127.0.0.1:{x.vnc_port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        click_window = subprocess.Popen(  # noqa: ASYNC220
            [sys.executable, __file__, "--click-window", x.display],
            env=x.env(), stdout=subprocess.PIPE,
        )  # fmt: skip
        terminal = start_terminal(x)
        sides = [
            Side("gateway", f"ws://127.0.0.1:{gateway_port}/bench?viewer=v", gateway.pid, None,
                 f"http://127.0.0.1:{metrics_port}/metrics"),
            Side("websockify", f"ws://127.0.0.1:{websockify_port}/", websockify.pid,
                 x.vnc_password, None),
        ]  # fmt: skip
        try:
            for port in (gateway_port, websockify_port):
                await wait_for_port(port)
            assert click_window.stdout is not None
            assert click_window.stdout.readline() == b"ready\n"
            await asyncio.sleep(1.0)  # the terminal is scrolling
            # The terminal's drawing rate, hence x11vnc's, drifts with what else runs:
            # rounds interleave the viewer counts and sides, and each figure is a median.
            rounds: dict[tuple[str, int], list[Sample]] = {}
            for _ in range(args.rounds):
                for n in counts:
                    for side in sides:
                        sample = await measure(side, n, args, x, vnc_pid, terminal.pid)
                        rounds.setdefault((side.name, n), []).append(sample)
            results = {
                side.name: [median_sample(rounds[side.name, n]) for n in counts] for side in sides
            }
            latency: dict[tuple[str, str], list[float]] = {}
            for side in sides:
                latency[side.name, "scrolling"] = await input_latency(side, args.clicks)
            stop(terminal)
            await asyncio.sleep(1.0)
            for side in sides:
                latency[side.name, "idle"] = await input_latency(side, args.clicks)
        finally:
            for child in (terminal, click_window, gateway, websockify):
                stop(child)
    report(results, latency)


def report(results: dict[str, list[Sample]], latency: dict[tuple[str, str], list[float]]) -> None:
    # "desk fps": updates x11vnc sent per second, all its connections together; "share":
    # of the desktop's updates, the part each viewer got (fan-out: one upstream for all);
    # "ms/upd": x11vnc CPU per update it sent, what one more update costs it.
    print(f"{'side':<11}{'viewers':>8}{'vnc cpu':>9}{'vnc MB/s':>10}{'desk fps':>9}"
          f"{'ms/upd':>8}{'fps/viewer':>11}{'vs 1':>7}{'share':>7}{'min fps':>9}"
          f"{'proxy cpu':>10}{'proxy MiB':>10}{'viewers cpu':>12}{'pixels':>8}")  # fmt: skip
    for name, samples in results.items():
        one = samples[0]
        for s in samples:
            pixels = "ok" if s.pixels_ok else "DIFFER"
            errors = f" ({s.errors} viewers failed)" if s.errors else ""
            print(f"{name:<11}{s.viewers:>8}{s.vnc_cpu:>9.2f}{s.vnc_bytes / 1e6:>10.1f}"
                  f"{s.desktop_fps:>9.1f}{per_update_ms(s):>8.1f}{s.fps:>11.1f}"
                  f"{s.fps / one.fps:>7.0%}{share(name, s):>7.0%}{s.fps_min:>9.1f}"
                  f"{s.proxy_cpu:>10.2f}{s.proxy_rss:>10.1f}{s.viewers_cpu:>12.2f}"
                  f"{pixels:>8}{errors}")  # fmt: skip
    ours, base = results["gateway"], results["websockify"]
    one, most = ours[0], ours[-1]
    print()
    print(f"gateway, {most.viewers} viewers against 1:")
    print(f"  x11vnc CPU {ratio(most.vnc_cpu, one.vnc_cpu)} (target <= 1.2x), per update it "
          f"sent {ratio(per_update_ms(most), per_update_ms(one))}; x11vnc bytes "
          f"{ratio(most.vnc_bytes, one.vnc_bytes)}, per update "
          f"{ratio(bytes_per_update(most), bytes_per_update(one))}")  # fmt: skip
    for s in ours[1:]:
        print(f"  {s.viewers} viewers: frame rate per viewer {s.fps / one.fps:.0%} of one "
              f"viewer's (target >= 90%), slowest viewer {s.fps_min / one.fps:.0%}; each got "
              f"{share('gateway', s):.0%} of the desktop's updates (one viewer: "
              f"{share('gateway', one):.0%})")  # fmt: skip
    if most.viewers > one.viewers:
        extra = most.viewers - one.viewers
        per_cpu = (most.proxy_cpu - one.proxy_cpu) / extra
        per_mib = (most.proxy_rss - one.proxy_rss) / extra
        print(f"  per extra viewer: gateway CPU {per_cpu:.3f} s/s, memory {per_mib:.2f} MiB "
              "(target <= 2 MiB)")  # fmt: skip
    print(f"websockify, {base[-1].viewers} viewers against 1: x11vnc CPU "
          f"{ratio(base[-1].vnc_cpu, base[0].vnc_cpu)}, x11vnc bytes "
          f"{ratio(base[-1].vnc_bytes, base[0].vnc_bytes)}, frame rate per viewer "
          f"{base[-1].fps / base[0].fps:.0%}")  # fmt: skip
    print(f"at {most.viewers} viewers, websockify / gateway: x11vnc CPU "
          f"{ratio(base[-1].vnc_cpu, most.vnc_cpu)}, proxy CPU "
          f"{ratio(base[-1].proxy_cpu, most.proxy_cpu)}, fps per viewer "
          f"{ratio(base[-1].fps, most.fps)}")  # fmt: skip
    print()
    print("input latency, click by one viewer -> its pixels at another (target p50 <= 50 ms):")
    for (name, desktop), samples in latency.items():
        ms = sorted(t * 1000 for t in samples)
        print(f"  {name:<11}{desktop:<10} p50 {statistics.median(ms):6.1f} ms   "
              f"p95 {ms[int(0.95 * (len(ms) - 1))]:6.1f} ms")  # fmt: skip


def median_sample(samples: list[Sample]) -> Sample:
    """Each figure's median over the rounds; pixels must have matched in every round."""
    fields = {
        name: statistics.median(getattr(s, name) for s in samples)
        for name in Sample.__dataclass_fields__
        if name not in ("viewers", "pixels_ok", "errors")
    }
    return Sample(
        viewers=samples[0].viewers,
        pixels_ok=all(s.pixels_ok for s in samples),
        errors=sum(s.errors for s in samples),
        **fields,
    )


def share(side: str, s: Sample) -> float:
    """Of the updates x11vnc sent, the part each viewer got: through the gateway all
    viewers share one connection's updates, through websockify each has its own."""
    if not s.desktop_fps:
        return float("nan")
    return s.fps / s.desktop_fps * (s.viewers if side == "websockify" else 1)


def per_update_ms(s: Sample) -> float:
    """x11vnc's CPU per framebuffer update it sent, in milliseconds."""
    return s.vnc_cpu / s.desktop_fps * 1000 if s.desktop_fps else float("nan")


def bytes_per_update(s: Sample) -> float:
    return s.vnc_bytes / s.desktop_fps if s.desktop_fps else float("nan")


def main() -> None:
    if len(sys.argv) == 6 and sys.argv[1] == "--serve":
        serve_gateway(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5]))
        return
    if len(sys.argv) == 6 and sys.argv[1] == "--run-viewers":
        run_viewers(sys.argv[2], int(sys.argv[3]), sys.argv[4] or None, sys.argv[5])
        return
    if len(sys.argv) == 3 and sys.argv[1] == "--click-window":
        run_click_window(sys.argv[2])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--viewers", default="1,10,50")
    parser.add_argument("--processes", type=int, default=2, help="viewer processes")
    parser.add_argument("--clicks", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3, help="samples per viewer count")
    parser.add_argument("--encoding", choices=sorted(VIEWER_ENCODINGS), default="tight",
                        help="what the many viewers ask for")  # fmt: skip
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
