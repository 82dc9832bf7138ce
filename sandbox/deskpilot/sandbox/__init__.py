"""One session's sandbox desktop: X server + VNC, window manager, apps and executors."""
