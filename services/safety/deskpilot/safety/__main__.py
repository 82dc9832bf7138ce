"""`python -m deskpilot.safety`: serve the Safety gRPC service."""

from deskpilot.common.service import run_service
from deskpilot.safety.app import build
from deskpilot.safety.settings import SafetySettings


def main() -> None:
    """Serve until SIGTERM."""
    run_service(SafetySettings, build)


if __name__ == "__main__":
    main()
