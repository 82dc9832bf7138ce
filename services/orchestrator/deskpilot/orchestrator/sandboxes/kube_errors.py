"""Kubernetes API failures as the session errors they mean, with the API server's own
words: a session that cannot get its Pod fails with "quota exceeded ..." or "may not
create pods ...", never a traceback or an HTTP dump."""

from __future__ import annotations

import json

import aiohttp
from kubernetes_asyncio.client.exceptions import ApiException

from deskpilot.common.errors import (
    DeadlineExceeded,
    FailedPrecondition,
    PermissionDenied,
    ResourceExhausted,
    ServiceError,
    Unavailable,
)


def api_message(exc: ApiException) -> str:
    """The API server's message from its Status body, else the HTTP reason."""
    try:
        body = json.loads(exc.body or "")
    except (TypeError, ValueError):
        body = None
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    return f"HTTP {exc.status} {exc.reason or ''}".strip()


def service_error(exc: BaseException, doing: str, namespace: str) -> ServiceError:
    """`exc`, raised while `doing` (e.g. "create the sandbox Pod"), as a ServiceError."""
    if isinstance(exc, ServiceError):
        return exc
    if isinstance(exc, (aiohttp.ClientError, OSError)):
        return Unavailable(f"cannot reach the Kubernetes API to {doing}: {exc}")
    if isinstance(exc, TimeoutError):
        return DeadlineExceeded(f"the Kubernetes API did not answer in time to {doing}")
    if not isinstance(exc, ApiException):
        return Unavailable(f"could not {doing}: {exc}")
    message = api_message(exc)
    where = f"in namespace {namespace}"
    match exc.status:
        case 401:
            return Unavailable(
                f"the Kubernetes API does not accept the orchestrator's credentials ({doing}): "
                f"{message}"
            )
        case 403 if "exceeded quota" in message:
            return ResourceExhausted(f"sandbox quota exceeded {where}: {message}")
        case 403:
            return PermissionDenied(f"the orchestrator may not {doing} {where}: {message}")
        case 404:
            return FailedPrecondition(f"cannot {doing} {where}: {message}")
        case 409:
            return Unavailable(f"conflict while trying to {doing} {where}: {message}")
        case 422 | 400:
            return FailedPrecondition(
                f"the Kubernetes API refused to {doing} {where} (check the sandbox "
                f"PodTemplate): {message}"
            )
        case 429:
            return Unavailable(f"the Kubernetes API is busy ({doing}): {message}")
        case _:
            return Unavailable(f"the Kubernetes API failed to {doing} {where}: {message}")
