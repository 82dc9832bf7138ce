"""`python -m deskpilot.gateway` serves the web page, its API and the desktops until
SIGTERM/SIGINT, then drains."""

from deskpilot.gateway.main import main

main()
