"""The gateway's own metrics (the desktop proxy adds its viewers, bytes, frame rates,
queue depths, keyframes, lease changes and handshake failures)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

REQUESTS = Counter(
    "deskpilot_gateway_requests_total",
    "HTTP requests and websocket upgrades answered, by route and status.",
    ["route", "status"],
)
OPEN_WEBSOCKETS = Gauge(
    "deskpilot_gateway_open_websockets", "Websockets open now, by route.", ["route"]
)
COMMANDS = Counter(
    "deskpilot_gateway_commands_total", "Commands over /ws/api, by operation and outcome.",
    ["op", "outcome"],
)  # fmt: skip
