"""Prometheus metrics of the desktop proxy, on the default registry (the gateway serves
it at /metrics). Per-session series are removed when the session's hub closes."""

from __future__ import annotations

import contextlib

from prometheus_client import Counter, Gauge

VIEWERS = Gauge("deskpilot_gateway_viewers", "Viewers connected, by session.", ["session"])
DESKTOP_BYTES_IN = Counter(
    "deskpilot_gateway_desktop_bytes_in_total", "Bytes read from VNC servers.", ["session"]
)
VIEWER_BYTES_OUT = Counter(
    "deskpilot_gateway_viewer_bytes_out_total", "Bytes sent to viewers.", ["session"]
)
VIEWER_BYTES_IN = Counter(
    "deskpilot_gateway_viewer_bytes_in_total", "RFB bytes read from viewers.", ["session"]
)
FRAMES = Counter(
    "deskpilot_gateway_frames_total",
    "Framebuffer updates received from the desktop (rate() gives frames per second).",
    ["session"],
)
QUEUE_BYTES = Gauge(
    "deskpilot_gateway_viewer_queue_bytes",
    "Bytes waiting for the slowest viewer of a session (its queue depth).",
    ["session"],
)
KEYFRAMES = Counter(
    "deskpilot_gateway_keyframes_total",
    "Whole screens sent to a viewer: on joining, when asked, or after falling behind.",
    ["session", "reason"],
)
LEASE_CHANGES = Counter(
    "deskpilot_gateway_lease_changes_total", "Changes of who controls a desktop.", ["session"]
)
HANDSHAKE_FAILURES = Counter(
    "deskpilot_gateway_handshake_failures_total",
    "RFB handshakes that failed, towards the viewer or the desktop, by close code.",
    ["side", "code"],
)
VIEWER_CLOSES = Counter(
    "deskpilot_gateway_viewer_closes_total", "Viewers closed by the proxy, by close code.", ["code"]
)
INPUT_DROPPED = Counter(
    "deskpilot_gateway_input_dropped_total",
    "Input messages dropped because the viewer does not hold the control lease.",
    ["session"],
)

_PER_SESSION = (
    VIEWERS, DESKTOP_BYTES_IN, VIEWER_BYTES_OUT, VIEWER_BYTES_IN, FRAMES, QUEUE_BYTES,
    LEASE_CHANGES, INPUT_DROPPED,
)  # fmt: skip


def forget_session(session_id: str) -> None:
    """Drop a closed session's series (session ids are unbounded; the registry is not)."""
    for metric in _PER_SESSION:
        with contextlib.suppress(KeyError):
            metric.remove(session_id)
    for reason in ("join", "request", "resync", "resize"):
        with contextlib.suppress(KeyError):
            KEYFRAMES.remove(session_id, reason)
