"""`deskpilot up --stand-in` end to end, as a user runs it: the whole local stack as real
processes (nats-server, the stand-in playing the demo, safety, orchestrator, and a local
sandbox with its X display and executors), `deskpilot run` of the demo against it, then
SIGTERM and nothing left running. About 20 s on two cores."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
from pathlib import Path

from tests.helpers.cli import run_cli
from tests.helpers.processes import descendants, still_running
from tests.helpers.up import free_ports, up_command


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


async def test_up_with_the_stand_in_runs_the_demo_and_stops_everything(tmp_path: Path) -> None:
    ports = free_ports()
    up = await asyncio.create_subprocess_exec(
        *up_command(tmp_path / "var", "--stand-in", ports=ports),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    log: list[str] = []
    ready = asyncio.Event()

    async def read_log() -> None:
        assert up.stdout is not None
        while line := await up.stdout.readline():
            log.append(line.decode().rstrip())
            if "all components ready" in log[-1]:
                ready.set()

    reader = asyncio.ensure_future(read_log())
    try:
        waiting = asyncio.ensure_future(ready.wait())
        await asyncio.wait({reader, waiting}, timeout=120, return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        assert ready.is_set(), "\n".join(log)
        assert any("STAND-IN (scripted demo, not Claude)" in line for line in log)

        address = f"127.0.0.1:{ports['orchestrator']}"
        token = tmp_path / "var" / "auth" / "cli.token"
        assert token.stat().st_mode & 0o777 == 0o600
        # Run where a user runs it, beside the stack's var/: it finds the token there.
        run = await run_cli(
            "run", "show me the demo", "--orchestrator", address, timeout=120,
            token=None, cwd=tmp_path,
        )  # fmt: skip
        code, out, err = run.code, run.out, run.err
        assert code == 0, f"{err}\n{out}\n" + "\n".join(log[-40:])
        assert out.startswith("model: Messages API STAND-IN (scripted demo, not Claude)\n")
        home = re.search(r'bash \$ echo "\$HOME"  → allow\n  result: (/\S+)\n', out)
        assert home, out
        for line in ("computer screenshot  → allow", "edit create ", "edit str_replace ",
                     "computer left_click (400, 300)  → allow", "The demo is done"):  # fmt: skip
            assert line in out
        assert "waiting for input (the model finished its turn) · 7 steps" in out
        note = Path(home[1]) / "deskpilot-demo.txt"
        assert note.read_text() == (
            "Hello from the deskpilot demo.\nThis line is edited with str_replace.\n"
        )
        if os.geteuid() == 0:  # the sandbox ran as its own user, not as the stack's root
            assert note.stat().st_uid != 0

        running = descendants(up.pid)
        assert len(running) >= 6, running  # nats, stand-in, safety, orchestrator, a sandbox…
        up.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(up.wait(), 120) == 0, "\n".join(log[-40:])
        await reader
    finally:
        if up.returncode is None:
            up.kill()
            await up.wait()
        reader.cancel()
    left = still_running(running)
    assert not left, left
    assert not any(_listening(port) for port in ports.values())
    assert log[-1].endswith("| stopped")
