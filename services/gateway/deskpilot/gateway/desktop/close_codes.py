"""Every websocket close code the desktop proxy sends, with the reason's shape.

Standard codes where one fits (RFC 6455: 1001 going away, 1008 policy, 1009 too big,
1011 internal); otherwise the application range 4000-4999, one code per cause so a
browser (and a test) can tell them apart without parsing the reason.
"""

from __future__ import annotations

from enum import IntEnum

# RFC 6455 allows 123 bytes of reason in a close frame.
MAX_REASON_BYTES = 123


class CloseCode(IntEnum):
    GOING_AWAY = 1001  # the gateway drains (shutdown)
    INPUT_FLOOD = 1008  # more client messages per second than allowed
    TOO_BIG = 1009  # a websocket frame over max_size, or a clipboard text over its bound
    INTERNAL = 1011  # a bug in the proxy; never expected

    RFB_MALFORMED = 4000  # a client message that breaks RFB framing or its own rules
    RFB_VERSION = 4001  # the viewer asked for an RFB version other than 3.8
    RFB_SECURITY = 4002  # the viewer chose a security type other than None
    UNKNOWN_MESSAGE = 4003  # a client message type the proxy does not know
    PIXEL_FORMAT = 4004  # SetPixelFormat other than 32 bpp true colour (see pixels.py)
    HANDSHAKE_TIMEOUT = 4005  # the viewer did not finish the RFB handshake in time
    TOO_SLOW = 4006  # the viewer stopped reading while its queue was full
    TEXT_FRAME = 4007  # RFB travels in binary frames only

    DESKTOP_UNAVAILABLE = 4010  # no desktop for this session, or its VNC server refuses
    DESKTOP_HANDSHAKE_TIMEOUT = 4011  # the VNC server did not finish its handshake in time
    DESKTOP_AUTH_FAILED = 4012  # the VNC server refused the session's password
    DESKTOP_LOST = 4013  # the VNC connection ended while viewers watched
    DESKTOP_PROTOCOL = 4014  # the VNC server sent something the proxy cannot follow
    DESKTOP_RESIZED = 4015  # the desktop changed size; this viewer cannot follow resizes


def close_reason(text: str) -> str:
    """`text` cut to what a close frame can carry (whole UTF-8 characters)."""
    data = text.encode()
    if len(data) <= MAX_REASON_BYTES:
        return text
    return data[: MAX_REASON_BYTES - 3].decode(errors="ignore") + "..."


class ViewerClosed(Exception):
    """Ends one viewer with a close code and reason (raised anywhere below serve_viewer)."""

    def __init__(self, code: CloseCode, reason: str) -> None:
        super().__init__(f"{code.name} ({int(code)}): {reason}")
        self.code = code
        self.reason = close_reason(reason)


class DesktopError(ViewerClosed):
    """The VNC side failed; every viewer of that upstream ends with this code and reason."""
