"""`python -m deskpilot.standin --script turns.json --port 8765`: serve until SIGTERM/SIGINT."""

from deskpilot.standin.script import Script
from deskpilot.standin.serve import serve_main


def main() -> None:
    serve_main(Script, "deskpilot-standin")


if __name__ == "__main__":
    main()
