"""The sandbox Pod the Kubernetes provider makes from a PodTemplate, and what it reads
from a Pod's status (tests/integration/test_orchestrator_kubernetes_provider.py runs
both against a real API server)."""

from __future__ import annotations

from deskpilot.orchestrator.sandboxes import kube_pods as pods
from tests.helpers.k8s import manifests


def _template() -> dict:
    return manifests("dev").one("PodTemplate", "sandbox")


def test_each_pod_points_at_its_own_secret_and_is_labelled() -> None:
    pod = pods.pod_manifest(
        _template(), name="sandbox-1", template_name="sandbox", secret_name="sandbox-1-session",
        size=(1024, 768), session_id="s-abc",
    )  # fmt: skip
    spec = pod["spec"]
    volume = next(v for v in spec["volumes"] if v["name"] == "session-secret")
    assert volume["secret"]["secretName"] == "sandbox-1-session"
    sandbox = next(c for c in spec["containers"] if c["name"] == "sandbox")
    env = {e["name"]: e for e in sandbox["env"]}
    assert env["DESKPILOT_SANDBOX_VNC_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == (
        "sandbox-1-session"
    )
    assert (env["DESKPILOT_SANDBOX_WIDTH"]["value"], env["DESKPILOT_SANDBOX_HEIGHT"]["value"]) == (
        "1024",
        "768",
    )
    labels = pod["metadata"]["labels"]
    assert labels[pods.SESSION_LABEL] == "s-abc"
    assert labels[pods.STATE_LABEL] == pods.CLAIMED
    assert labels["app.kubernetes.io/name"] == "sandbox"  # the template's own stay
    assert "sandbox-session" not in str(pod)


def test_a_session_id_that_is_no_label_value_is_hashed() -> None:
    assert pods.session_label("s-0123") == "s-0123"
    hashed = pods.session_label("tenant/with spaces")
    assert hashed.startswith("h-") and len(hashed) <= 63


def _pod(status: dict, **metadata: object) -> dict:
    return {"metadata": {"name": "p", **metadata}, "status": status}


def test_pod_states_say_why() -> None:
    assert pods.pod_state(None).reason == "was deleted"
    evicted = _pod({"phase": "Failed", "reason": "Evicted", "message": "low on memory"})
    assert pods.pod_state(evicted) == pods.PodState(
        failed=True, reason="was evicted: low on memory"
    )
    waiting = {"waiting": {"reason": "ImagePullBackOff", "message": "no"}}
    container = {"name": "sandbox", "image": "x", "state": waiting}
    pulling = _pod({"phase": "Pending", "containerStatuses": [container]})
    assert pods.pod_state(pulling) == pods.PodState(
        failed=True, reason="cannot pull its image (x): ImagePullBackOff: no"
    )
    condition = {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                 "message": "0/3"}  # fmt: skip
    unschedulable = _pod({"phase": "Pending", "conditions": [condition]})
    assert pods.pod_state(unschedulable) == pods.PodState(reason="no node can run it: 0/3")
    ready = _pod({"phase": "Running", "podIP": "10.0.0.5",
                  "conditions": [{"type": "Ready", "status": "True"}]})  # fmt: skip
    assert pods.pod_state(ready).ready
    assert pods.pod_state(_pod({"phase": "Running"}, deletionTimestamp="t")).failed
