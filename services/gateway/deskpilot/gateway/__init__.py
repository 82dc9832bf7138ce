"""The gateway: the web page, its routes, and the VNC proxy (see README.md)."""
