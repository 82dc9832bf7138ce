"""The desktop proxy: noVNC (or any RFB viewer) over a websocket on one side, a session's
VNC server on the other. The gateway's server accepts the websocket (token, Origin,
subprotocol `binary` or none) and hands it to `DesktopHubs.serve_viewer`.

    hubs = DesktopHubs(access, mode="fanout")       # access(session_id) -> DesktopAccess
    await hubs.serve_viewer(session_id, websocket, Viewer(name, may_control))
    await hubs.set_controller(session_id, name)      # None: the agent holds the lease
    await hubs.close("gateway shutting down")         # every viewer: close 1001 + reason

- Towards the viewer: RFB 3.8, security type None, ServerInit in noVNC's pixel format (32
  bpp true colour, red-green-blue bytes; another SetPixelFormat closes the viewer with
  4004, see pixels.py). Towards the desktop: VncAuth with the session's password, the
  shared flag forced on, the whole handshake bounded by `handshake_timeout`.
- Every client message is parsed (client_messages.py); an unknown type closes the viewer
  (4003). Input (KeyEvent, PointerEvent, ClientCutText, QEMU keys, xvp, SetDesktopSize)
  reaches the desktop only from a viewer with `may_control` whose name is the
  controller's. A lease change releases every key and button still held.
- mode="fanout": one VNC connection per session (always one request outstanding on it),
  a shadow framebuffer, each update encoded once per kind of viewer (Raw or Tight with
  reset zlib streams; CopyRect passed on) and the same bytes queued for every viewer.
  A viewer gets updates only in answer to its FramebufferUpdateRequests, as RFC 6143
  has it (ContinuousUpdates is not offered; noVNC asks after each update it drew):
  what changed since its last one goes out merged behind one header. A viewer whose
  queue would pass `max_viewer_queue_bytes` gets a keyframe of the screen as it is when
  it next asks, and one that took nothing for `stall_seconds` while being sent to is
  closed (4006). Desktop clipboard text goes to the controller only.
- mode="passthrough": one VNC connection per viewer, bytes relayed, the same filtering;
  pseudo-encodings the proxy cannot follow are stripped (encodings.py).
- The websocket server must set `max_size=MAX_VIEWER_MESSAGE_BYTES` (a clipboard paste
  fits; a larger frame is closed 1009 by websockets before it is buffered) and
  `compression=None` on this route: permessage-deflate (which browsers offer) would
  compress every viewer's copy of the shared bytes anew, and hide a stalled viewer.
- Close codes: close_codes.CloseCode. Metrics: metrics.py (default registry).
"""

from deskpilot.gateway.desktop.access import DesktopAccess, Viewer
from deskpilot.gateway.desktop.close_codes import CloseCode, DesktopError
from deskpilot.gateway.desktop.hubs import DesktopHubs
from deskpilot.gateway.desktop.limits import MAX_VIEWER_MESSAGE_BYTES

__all__ = [
    "MAX_VIEWER_MESSAGE_BYTES",
    "CloseCode",
    "DesktopAccess",
    "DesktopError",
    "DesktopHubs",
    "Viewer",
]
