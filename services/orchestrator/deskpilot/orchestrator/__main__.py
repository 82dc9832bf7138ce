"""`python -m deskpilot.orchestrator` runs an orchestrator replica."""

from deskpilot.common.service import run_service
from deskpilot.orchestrator.service import build
from deskpilot.orchestrator.settings import OrchestratorSettings

run_service(OrchestratorSettings, build)
