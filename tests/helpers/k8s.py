"""The Kubernetes manifests (`k8s/`) as the cluster would get them: each overlay rendered
by the pinned kubectl (`make k8s-deps`), and ways to walk the objects — every Pod spec
wherever it sits (Deployment, StatefulSet, PodTemplate) and every container in it."""

from __future__ import annotations

import functools
import os
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
KUBECTL = K8S / "tools" / "bin" / "kubectl"
OVERLAYS = ("dev", "prod")
SYSTEM = "deskpilot-system"
SANDBOXES = "deskpilot-sandboxes"

Object = dict[str, Any]


def kubectl() -> str:
    """The pinned kubectl; skips the test, saying how to get it, where it is absent."""
    if not os.access(KUBECTL, os.X_OK):
        pytest.skip(f"no kubectl at {KUBECTL.relative_to(ROOT)}: `make k8s-deps` installs it")
    return str(KUBECTL)


def render(folder: Path) -> list[Object]:
    """`kubectl kustomize folder`, parsed; AssertionError with kubectl's words if it fails."""
    result = subprocess.run(
        [kubectl(), "kustomize", str(folder)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, f"kubectl kustomize {folder} failed: {result.stderr}"
    return [o for o in yaml.safe_load_all(result.stdout) if o]


@functools.cache
def _rendered(overlay: str) -> tuple[Object, ...]:
    return tuple(render(K8S / "overlays" / overlay))


@dataclass(frozen=True)
class Manifests:
    """One overlay's objects."""

    overlay: str
    objects: tuple[Object, ...]

    def of_kind(self, kind: str) -> list[Object]:
        return [o for o in self.objects if o["kind"] == kind]

    def one(self, kind: str, name: str) -> Object:
        found = [o for o in self.of_kind(kind) if o["metadata"]["name"] == name]
        assert len(found) == 1, f"{self.overlay}: {len(found)} {kind} named {name}"
        return found[0]

    def pod_specs(self) -> Iterator[tuple[str, Object, Object]]:
        """(`Kind/name`, the Pod template's metadata, its spec) of every workload."""
        for o in self.objects:
            template = _pod_template(o)
            if template is not None:
                yield f"{o['kind']}/{o['metadata']['name']}", template["metadata"], template["spec"]

    def pod_spec(self, kind: str, name: str) -> Object:
        template = _pod_template(self.one(kind, name))
        assert template is not None, f"{kind}/{name} has no Pod template"
        return template["spec"]

    def policies_selecting(self, namespace: str, labels: Mapping[str, str]) -> list[Object]:
        """The NetworkPolicies of `namespace` that apply to a Pod labelled `labels`."""
        return [
            p
            for p in self.of_kind("NetworkPolicy")
            if p["metadata"]["namespace"] == namespace and selects(p["spec"]["podSelector"], labels)
        ]


def manifests(overlay: str) -> Manifests:
    return Manifests(overlay, _rendered(overlay))


def _pod_template(o: Object) -> Object | None:
    if o["kind"] == "PodTemplate":
        return o["template"]
    if o["kind"] in {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}:
        return o["spec"]["template"]
    if o["kind"] == "CronJob":
        return o["spec"]["jobTemplate"]["spec"]["template"]
    return None


def containers(spec: Object) -> list[Object]:
    """Every container of a Pod spec, init containers included."""
    return [*spec.get("initContainers", []), *spec["containers"]]


def container(spec: Object, name: str) -> Object:
    return next(c for c in containers(spec) if c["name"] == name)


def selects(selector: Object, labels: Mapping[str, str]) -> bool:
    """Whether a label selector (matchLabels and the In / NotIn / Exists / DoesNotExist
    expressions) matches `labels`; the empty selector matches everything."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator = expression["key"], expression["operator"]
        values = expression.get("values", [])
        ok = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[operator]
        if not ok:
            return False
    return True


def mounted_secrets(spec: Object, container_spec: Object) -> dict[str, str]:
    """Mount path → Secret name, for each Secret volume `container_spec` mounts."""
    secrets = {v["name"]: v["secret"]["secretName"] for v in spec["volumes"] if "secret" in v}
    return {
        m["mountPath"]: secrets[m["name"]]
        for m in container_spec.get("volumeMounts", [])
        if m["name"] in secrets
    }
