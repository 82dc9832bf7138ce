"""`python -m deskpilot.shell` serves the Shell gRPC service."""

from deskpilot.common.executor import credential_guard
from deskpilot.common.service import run_service
from deskpilot.shell.service import build
from deskpilot.shell.settings import ShellSettings


def main() -> None:
    run_service(ShellSettings, build, interceptors=credential_guard)


if __name__ == "__main__":
    main()
