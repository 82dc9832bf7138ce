"""What the orchestrator knows about its model endpoint before the first call: whether an
API key is set, and whether ANTHROPIC_BASE_URL points at the Messages API stand-in."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import urllib.request
from dataclasses import dataclass

log = logging.getLogger("deskpilot.orchestrator.model")

MISSING_KEY = (
    "this orchestrator has no ANTHROPIC_API_KEY: set it in the orchestrator's environment "
    "to use Claude, or run the scripted demo with `deskpilot up --stand-in`"
)


@dataclass(frozen=True)
class ModelEndpoint:
    """The model endpoint as seen at start-up."""

    base_url: str
    has_key: bool
    is_stand_in: bool


async def inspect_model_endpoint() -> ModelEndpoint:
    """Read the SDK's environment and ask a custom base URL whether it is the stand-in."""
    base_url = os.environ.get("ANTHROPIC_BASE_URL", "")
    has_key = bool(os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("ANTHROPIC_AUTH_TOKEN"))
    stand_in = bool(base_url) and await asyncio.to_thread(_says_stand_in, base_url)
    if stand_in:
        log.warning(
            "model answers come from the Messages API STAND-IN at %s (scripted; not Claude)",
            base_url,
        )
    if not has_key:
        log.warning("%s", MISSING_KEY)
    return ModelEndpoint(base_url, has_key, stand_in)


def _says_stand_in(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(base_url.rstrip("/") + "/health", timeout=3) as reply:
            return bool(json.loads(reply.read()).get("stand_in"))
    except (OSError, ValueError):
        return False
