"""Run inside a fresh network namespace (`unshare --net`): give it global addresses, start
an X server with VNC bound to one address, and report as JSON which addresses and ports
answer.

The namespace is the process's own, so the addresses it adds touch nothing else on the
machine and go away with it. Usage: `python -m tests.helpers.vnc_listen_probe MODE HOST`.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys

from deskpilot.sandbox.xserver import XServer, XServerConfig

# Documentation ranges (RFC 3849, RFC 5737): global scope, routed nowhere.
GLOBAL_IPV6 = "2001:db8::1"
GLOBAL_IPV4 = "192.0.2.1"
ADDRESSES = ("127.0.0.1", "::1", GLOBAL_IPV4, GLOBAL_IPV6)


def _add_addresses() -> None:
    # The namespace has only `lo`; global addresses on it are reachable like any other.
    for command in (
        ["ip", "link", "set", "lo", "up"],
        ["ip", "-6", "addr", "add", f"{GLOBAL_IPV6}/128", "dev", "lo"],
        ["ip", "addr", "add", f"{GLOBAL_IPV4}/32", "dev", "lo"],
    ):
        subprocess.run(command, check=True, capture_output=True)


def _listening(pids: list[int]) -> list[str]:
    """The local addresses (host:port, as `ss` prints them) `pids` listen on."""
    lines = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout
    found = []
    for line in lines.splitlines():
        owners = {int(p) for p in re.findall(r"pid=(\d+),", line)}
        if owners & set(pids):
            found.append(line.split()[3])
    return found


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def main() -> None:
    mode, host = sys.argv[1], sys.argv[2]
    _add_addresses()
    with XServer(XServerConfig(mode=mode, vnc_host=host)) as server:  # type: ignore[arg-type]
        listening = _listening(server.pids)
        ports = {server.vnc_port, 5900} | {int(a.rpartition(":")[2]) for a in listening}
        answered = [
            f"{address} port {port}"
            for address in ADDRESSES
            for port in sorted(ports)
            if _answers(address, port)
        ]
        print(
            json.dumps({"vnc_port": server.vnc_port, "listening": listening, "answered": answered})
        )


if __name__ == "__main__":
    main()
