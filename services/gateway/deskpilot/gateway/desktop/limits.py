"""The bounds every viewer and desktop connection lives within (DesktopHubs' options)."""

from __future__ import annotations

from dataclasses import dataclass

from deskpilot.gateway.desktop.client_messages import DEFAULT_MAX_CLIPBOARD_BYTES

# What the websocket server's max_size must be at least: the largest client message a
# viewer sends in one frame is a clipboard paste (noVNC sends it whole).
MAX_VIEWER_MESSAGE_BYTES = DEFAULT_MAX_CLIPBOARD_BYTES + 64 * 1024


@dataclass(frozen=True)
class Limits:
    max_viewer_queue_bytes: int = 8 * 1024 * 1024
    handshake_timeout: float = 10.0  # each side's RFB handshake (desktop: and first screen)
    stall_seconds: float = 10.0  # a full queue and nothing read for this long: closed
    max_messages_per_second: float = 1000.0  # noVNC sends pointer moves at most every 17 ms
    max_clipboard_bytes: int = DEFAULT_MAX_CLIPBOARD_BYTES
    linger_seconds: float = 2.0  # keep a session's upstream this long after its last viewer

    def __post_init__(self) -> None:
        for name in ("max_viewer_queue_bytes", "handshake_timeout", "stall_seconds",
                     "max_messages_per_second", "max_clipboard_bytes"):  # fmt: skip
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.linger_seconds < 0:
            raise ValueError("linger_seconds must not be negative")
