"""Sandbox Pods as data: the Pod and Secret the Kubernetes provider makes from a
PodTemplate, and what a Pod's status says (ready, still starting, or failed and why).

Objects are plain dicts in the API's own (camelCase) form, as a PodTemplate is read and
a watch delivers them, so nothing is lost in a model round trip.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import re
from dataclasses import dataclass
from typing import Any

from deskpilot.v1 import session_pb2

Object = dict[str, Any]

# Labels on every sandbox Pod and Secret this provider makes.
MANAGED_BY = ("app.kubernetes.io/managed-by", "deskpilot-orchestrator")
TEMPLATE_LABEL = "deskpilot.io/template"
SIZE_LABEL = "deskpilot.io/size"
STATE_LABEL = "deskpilot.io/state"  # "warm" (unclaimed) or "claimed"
SESSION_LABEL = "deskpilot.io/session"
POD_LABEL = "deskpilot.io/pod"  # on a Secret: the Pod it belongs to
WARM, CLAIMED = "warm", "claimed"

# The name the PodTemplate gives the session's Secret; each Pod gets its own instead.
SECRET_PLACEHOLDER = "sandbox-session"
CREDENTIAL_KEY = "executor-credential"
VNC_PASSWORD_KEY = "vnc-password"
SANDBOX_CONTAINER = "sandbox"
PORT_NAMES = ("display", "shell", "vnc")

# Waiting reasons after which the container will not start by itself.
_IMAGE_REASONS = {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"}
_CONFIG_REASONS = {"CreateContainerConfigError", "CreateContainerError", "RunContainerError"}
_LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")


def session_label(session_id: str) -> str:
    """`session_id` as a label value (ids that cannot be one are hashed)."""
    if _LABEL_VALUE.match(session_id):
        return session_id
    return "h-" + hashlib.sha256(session_id.encode()).hexdigest()[:40]


def size_label(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]}"


def selector(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in labels.items())


def pod_manifest(
    template: Object,
    *,
    name: str,
    template_name: str,
    secret_name: str,
    size: tuple[int, int],
    session_id: str = "",
) -> Object:
    """The Pod `template` (a PodTemplate) makes, pointing at `secret_name`; warm (no
    session) or claimed by `session_id`."""
    spec_template = copy.deepcopy(template.get("template") or {})
    metadata = spec_template.get("metadata") or {}
    spec = spec_template.get("spec") or {}
    labels = dict(metadata.get("labels") or {})
    labels.update(
        {
            MANAGED_BY[0]: MANAGED_BY[1],
            TEMPLATE_LABEL: template_name,
            SIZE_LABEL: size_label(size),
            STATE_LABEL: CLAIMED if session_id else WARM,
        }
    )
    if session_id:
        labels[SESSION_LABEL] = session_label(session_id)
    _point_at_secret(spec, secret_name)
    _set_size(spec, size)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "labels": labels,
            "annotations": dict(metadata.get("annotations") or {}),
        },
        "spec": spec,
    }


def secret_manifest(name: str, pod_name: str, credential: str, vnc_password: str) -> Object:
    """The Pod's Secret: its executor credential and VNC password."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": name,
            "labels": {MANAGED_BY[0]: MANAGED_BY[1], POD_LABEL: pod_name},
        },
        "type": "Opaque",
        "data": {
            CREDENTIAL_KEY: _b64(credential),
            VNC_PASSWORD_KEY: _b64(vnc_password),
        },
    }


def secret_values(secret: Object) -> session_pb2.SandboxSecrets:
    data = secret.get("data") or {}
    return session_pb2.SandboxSecrets(
        executor_credential=base64.b64decode(data.get(CREDENTIAL_KEY, "")).decode(),
        vnc_password=base64.b64decode(data.get(VNC_PASSWORD_KEY, "")).decode(),
    )


def owner_reference(pod: Object) -> Object:
    """Makes the Secret the Pod's: the garbage collector deletes it with the Pod."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "name": pod["metadata"]["name"],
        "uid": pod["metadata"]["uid"],
    }


def endpoints(pod: Object) -> session_pb2.SandboxEndpoints:
    """Where the Pod's executors and VNC server listen: its IP and its sandbox container's
    named ports."""
    ip = pod["status"]["podIP"]
    host = f"[{ip}]" if ":" in ip else ip
    ports = {
        p.get("name"): p["containerPort"]
        for c in pod["spec"]["containers"]
        if c["name"] == SANDBOX_CONTAINER
        for p in c.get("ports") or []
    }
    address = {n: f"{host}:{ports[n]}" if n in ports else "" for n in PORT_NAMES}
    return session_pb2.SandboxEndpoints(
        sandbox_id=pod["metadata"]["name"],
        display_address=address["display"],
        shell_address=address["shell"],
        vnc_address=address["vnc"],
    )


@dataclass(frozen=True)
class PodState:
    """What a Pod's status says: ready, failed (for good, `reason` says why), or starting
    (`reason`: what it waits for, if known)."""

    ready: bool = False
    failed: bool = False
    reason: str = ""


def pod_state(pod: Object | None) -> PodState:
    if pod is None:
        return PodState(failed=True, reason="was deleted")
    status = pod.get("status") or {}
    if pod["metadata"].get("deletionTimestamp"):
        return PodState(failed=True, reason="is being deleted")
    phase = status.get("phase", "")
    if phase in ("Failed", "Succeeded"):
        return PodState(failed=True, reason=_ended(status, phase))
    for container in [
        *status.get("initContainerStatuses", []),
        *status.get("containerStatuses", []),
    ]:
        state = container.get("state") or {}
        waiting = state.get("waiting") or {}
        why = waiting.get("reason", "")
        if why in _IMAGE_REASONS:
            return PodState(
                failed=True,
                reason=f"cannot pull its image ({container.get('image', '?')}): {why}: "
                f"{waiting.get('message', '')}".rstrip(": "),
            )
        if why in _CONFIG_REASONS:
            message = waiting.get("message", "")
            return PodState(
                failed=True, reason=f"cannot start container {container['name']}: {why}: {message}"
            )
        terminated = state.get("terminated")
        if terminated and container in status.get("containerStatuses", []):
            return PodState(
                failed=True, reason=f"container {container['name']} {_terminated(terminated)}"
            )
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    scheduled = conditions.get("PodScheduled", {})
    if scheduled.get("status") == "False" and scheduled.get("reason") == "Unschedulable":
        return PodState(reason=f"no node can run it: {scheduled.get('message', '')}")
    if conditions.get("Ready", {}).get("status") == "True" and status.get("podIP"):
        return PodState(ready=True)
    return PodState(reason=phase or "Pending")


def _ended(status: Object, phase: str) -> str:
    reason, message = status.get("reason", ""), status.get("message", "")
    if reason == "Evicted":
        return f"was evicted: {message}" if message else "was evicted"
    if reason == "DeadlineExceeded":
        return f"ran out of time (activeDeadlineSeconds): {message}".rstrip(": ")
    for container in status.get("containerStatuses") or []:
        terminated = (container.get("state") or {}).get("terminated")
        if terminated:
            return f"ended ({phase}): container {container['name']} {_terminated(terminated)}"
    detail = ": ".join(p for p in (reason, message) if p)
    return f"ended ({phase}{': ' + detail if detail else ''})"


def _terminated(terminated: Object) -> str:
    words = f"exited with code {terminated.get('exitCode', '?')}"
    why = ": ".join(p for p in (terminated.get("reason"), terminated.get("message")) if p)
    return f"{words} ({why})" if why else words


def _point_at_secret(spec: Object, secret_name: str) -> None:
    for volume in spec.get("volumes") or []:
        secret = volume.get("secret")
        if secret and secret.get("secretName") == SECRET_PLACEHOLDER:
            secret["secretName"] = secret_name
    for container in [*spec.get("initContainers", []), *spec.get("containers", [])]:
        for variable in container.get("env") or []:
            ref = (variable.get("valueFrom") or {}).get("secretKeyRef")
            if ref and ref.get("name") == SECRET_PLACEHOLDER:
                ref["name"] = secret_name
        for source in container.get("envFrom") or []:
            ref = source.get("secretRef")
            if ref and ref.get("name") == SECRET_PLACEHOLDER:
                ref["name"] = secret_name


def _set_size(spec: Object, size: tuple[int, int]) -> None:
    """The screen size, as the sandbox's own settings (its environment)."""
    for container in spec.get("containers") or []:
        if container["name"] != SANDBOX_CONTAINER:
            continue
        env = [
            e
            for e in container.get("env") or []
            if e["name"] not in ("DESKPILOT_SANDBOX_WIDTH", "DESKPILOT_SANDBOX_HEIGHT")
        ]
        env += [
            {"name": "DESKPILOT_SANDBOX_WIDTH", "value": str(size[0])},
            {"name": "DESKPILOT_SANDBOX_HEIGHT", "value": str(size[1])},
        ]
        container["env"] = env


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()
