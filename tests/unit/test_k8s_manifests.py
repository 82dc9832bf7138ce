"""The Kubernetes manifests render in both overlays, are valid objects for Kubernetes 1.29
and 1.33 (strictly: an unknown field is an error), and keep the security properties the
deployment promises: nothing privileged or root, restricted Pod Security, default-deny
networking with only the paths the stack needs, namespaced RBAC without exec, and the
sandbox template's limits."""

from __future__ import annotations

import ipaddress
from typing import Any

import kubernetes_validate
import pytest

from tests.helpers.k8s import (
    OVERLAYS,
    SANDBOXES,
    SYSTEM,
    Manifests,
    container,
    containers,
    manifests,
    selects,
)

KUBERNETES_VERSIONS = ("1.29", "1.33")
WORKLOADS = (
    ("StatefulSet", "nats"),
    ("Deployment", "orchestrator"),
    ("Deployment", "safety"),
    ("Deployment", "gateway"),
    ("PodTemplate", "sandbox"),
)
SANDBOX_LABELS = {"app.kubernetes.io/name": "sandbox", "app.kubernetes.io/component": "sandbox"}


@pytest.fixture(params=OVERLAYS)
def stack(request: pytest.FixtureRequest) -> Manifests:
    return manifests(request.param)


def test_each_overlay_renders_every_workload_in_its_namespace(stack: Manifests) -> None:
    assert {n["metadata"]["name"] for n in stack.of_kind("Namespace")} == {SYSTEM, SANDBOXES}
    for kind, name in WORKLOADS:
        namespace = SANDBOXES if kind == "PodTemplate" else SYSTEM
        assert stack.one(kind, name)["metadata"]["namespace"] == namespace
    for o in stack.objects:
        if o["kind"] != "Namespace":
            assert o["metadata"].get("namespace") in {SYSTEM, SANDBOXES}, o["metadata"]["name"]
            assert o["metadata"]["labels"]["app.kubernetes.io/part-of"] == "deskpilot"


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_object_is_valid_for_kubernetes(stack: Manifests, version: str) -> None:
    failures = []
    for o in stack.objects:
        try:
            kubernetes_validate.validate(o, version, strict=True)
        except kubernetes_validate.ValidationError as err:
            where = ".".join(str(p) for p in err.path)
            failures.append(f"{o['kind']}/{o['metadata']['name']} {where}: {err.message}")
    assert not failures, "\n".join(failures)


def test_validation_refuses_an_unknown_field() -> None:
    # The check above is only worth something if a misspelt field fails it.
    pod_template = dict(manifests("dev").one("PodTemplate", "sandbox"))
    spec = {**pod_template["template"]["spec"], "enableServiceLinkz": False}
    broken = {**pod_template, "template": {**pod_template["template"], "spec": spec}}
    with pytest.raises(kubernetes_validate.ValidationError, match="enableServiceLinkz"):
        kubernetes_validate.validate(broken, "1.33", strict=True)


def test_both_namespaces_enforce_the_restricted_pod_security_standard(stack: Manifests) -> None:
    for namespace in stack.of_kind("Namespace"):
        labels = namespace["metadata"]["labels"]
        assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
        assert labels["pod-security.kubernetes.io/warn"] == "restricted"


def test_no_pod_runs_privileged_as_root_or_with_capabilities(stack: Manifests) -> None:
    specs = list(stack.pod_specs())
    assert {where for where, _, _ in specs} == {f"{k}/{n}" for k, n in WORKLOADS}
    for where, _, spec in specs:
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True, where
        assert pod.get("runAsUser", 1) != 0, where
        assert pod["seccompProfile"]["type"] == "RuntimeDefault", where
        for host in ("hostNetwork", "hostPID", "hostIPC"):
            assert not spec.get(host, False), f"{where}: {host}"
        assert not any("hostPath" in v for v in spec.get("volumes", [])), where
        for c in containers(spec):
            at = f"{where} container {c['name']}"
            context = c["securityContext"]
            assert context.get("privileged", False) is False, at
            assert context["allowPrivilegeEscalation"] is False, at
            assert context["readOnlyRootFilesystem"] is True, at
            assert context["runAsNonRoot"] is True, at
            assert context.get("runAsUser", 1) != 0, at
            assert context["capabilities"]["drop"] == ["ALL"], at
            assert not context["capabilities"].get("add"), at
            assert "seccompProfile" not in context or (
                context["seccompProfile"]["type"] == "RuntimeDefault"
            ), at


def test_every_container_has_requests_and_limits(stack: Manifests) -> None:
    for where, _, spec in stack.pod_specs():
        for c in containers(spec):
            for bound in ("requests", "limits"):
                resources = c["resources"][bound]
                assert {"cpu", "memory", "ephemeral-storage"} <= set(resources), (
                    f"{where} container {c['name']} {bound}: {resources}"
                )


def test_only_the_orchestrator_talks_to_the_kubernetes_api(stack: Manifests) -> None:
    for where, _, spec in stack.pod_specs():
        account = spec["serviceAccountName"]
        mounted = spec.get("automountServiceAccountToken", True)
        assert mounted is (where == "Deployment/orchestrator"), where
        assert account != "default", where
    for account in stack.of_kind("ServiceAccount"):
        if account["metadata"]["name"] != "orchestrator":
            assert account["automountServiceAccountToken"] is False


def test_rbac_is_namespaced_and_lets_the_orchestrator_manage_sandboxes_only(
    stack: Manifests,
) -> None:
    assert not stack.of_kind("ClusterRole")
    assert not stack.of_kind("ClusterRoleBinding")
    roles = stack.of_kind("Role")
    assert [(r["metadata"]["namespace"], r["metadata"]["name"]) for r in roles] == [
        (SANDBOXES, "sandbox-manager")
    ]
    granted: dict[str, set[str]] = {}
    for rule in roles[0]["rules"]:
        assert "*" not in rule["verbs"] and "*" not in rule["resources"], rule
        assert "*" not in rule["apiGroups"], rule
        for resource in rule["resources"]:
            granted.setdefault(resource, set()).update(rule["verbs"])
    # No subresource at all: above all no pods/exec, attach or portforward.
    assert not [r for r in granted if "/" in r]
    for managed in ("pods", "secrets", "services"):
        assert {"get", "list", "watch", "create", "delete", "patch"} <= granted[managed]
    assert granted["podtemplates"] == {"get", "list", "watch"}
    (binding,) = stack.of_kind("RoleBinding")
    assert binding["metadata"]["namespace"] == SANDBOXES
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "sandbox-manager",
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "orchestrator", "namespace": SYSTEM}
    ]


def test_both_namespaces_deny_all_traffic_by_default(stack: Manifests) -> None:
    for namespace in (SYSTEM, SANDBOXES):
        deny = [
            p
            for p in stack.of_kind("NetworkPolicy")
            if p["metadata"]["namespace"] == namespace
            and p["spec"]["podSelector"] == {}
            and set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
            and not p["spec"].get("ingress")
            and not p["spec"].get("egress")
        ]
        assert len(deny) == 1, namespace


def _peers(stack: Manifests, namespace: str, labels: dict[str, str]) -> dict[int, set[str]]:
    """Port → who may open a connection to a Pod labelled `labels`, from every
    NetworkPolicy that selects it: `namespace/app`, `*` for any Pod or namespace of a
    selector without that part, `anyone` for a rule without sources."""
    allowed: dict[int, set[str]] = {}
    for policy in stack.policies_selecting(namespace, labels):
        for rule in policy["spec"].get("ingress", []):
            sources = [_peer(p, namespace) for p in rule.get("from", [])] or ["anyone"]
            for port in rule["ports"]:
                allowed.setdefault(port["port"], set()).update(sources)
    return allowed


def _peer(peer: dict[str, Any], namespace: str) -> str:
    assert set(peer) <= {"namespaceSelector", "podSelector"}, peer  # no ipBlock sources
    if "namespaceSelector" in peer:
        ns_labels = peer["namespaceSelector"]["matchLabels"]
        peer_ns = ns_labels.get("kubernetes.io/metadata.name") or ",".join(
            f"{k}={v}" for k, v in ns_labels.items()
        )
    else:
        peer_ns = namespace
    pods = peer.get("podSelector", {}).get("matchLabels", {})
    return f"{peer_ns}/{pods.get('app.kubernetes.io/name', '*')}"


def test_only_the_orchestrator_reaches_the_executors_and_only_the_gateway_vnc(
    stack: Manifests,
) -> None:
    assert _peers(stack, SANDBOXES, SANDBOX_LABELS) == {
        50061: {f"{SYSTEM}/orchestrator"},
        50062: {f"{SYSTEM}/orchestrator"},
        5900: {f"{SYSTEM}/gateway"},
    }


def test_each_service_is_reached_only_by_its_callers(stack: Manifests) -> None:
    scraper = "deskpilot.dev/scrape-metrics=true/*"

    def peers(app: str) -> dict[int, set[str]]:
        allowed = _peers(stack, SYSTEM, {"app.kubernetes.io/name": app})
        if app in {"orchestrator", "safety"}:  # Prometheus reads their /metrics port
            assert allowed.pop(9090) == {scraper}
        return allowed

    assert peers("safety") == {50053: {f"{SYSTEM}/orchestrator"}}
    assert peers("orchestrator") == {50051: {f"{SYSTEM}/gateway"}}
    assert peers("nats") == {
        4222: {f"{SYSTEM}/orchestrator", f"{SYSTEM}/gateway"},
        6222: {f"{SYSTEM}/nats"},
    }
    assert peers("gateway") == {8080: {"anyone"}}  # the page people open


# What a sandbox must never reach: every private range (Pods, Services, nodes and the
# API server usually live there, e.g. kubeadm's 10.244.0.0/16 and 10.96.0.0/12), carrier
# NAT space, loopback and link-local (the cloud metadata addresses).
NEVER_FROM_A_SANDBOX = [
    ipaddress.ip_network(n)
    for n in (
        "10.0.0.0/8",
        "10.244.0.0/16",
        "10.96.0.0/12",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "169.254.169.254/32",
        "fc00::/7",
        "fd00:ec2::254/128",
        "fe80::/10",
        "::1/128",
    )
]


def test_sandboxes_reach_only_dns_and_the_public_internet_on_80_and_443(
    stack: Manifests,
) -> None:
    policies = stack.policies_selecting(SANDBOXES, SANDBOX_LABELS)
    rules = [r for p in policies for r in p["spec"].get("egress", [])]
    assert rules, "no egress allowed at all: the desktop's browser would be useless"
    blocks = []
    for rule in rules:
        ports = {(p["protocol"], p["port"]) for p in rule["ports"]}
        peers = rule["to"]
        if ports == {("UDP", 53), ("TCP", 53)}:
            (dns,) = peers
            assert dns["namespaceSelector"]["matchLabels"] == {
                "kubernetes.io/metadata.name": "kube-system"
            }
            assert dns["podSelector"]["matchLabels"] == {"k8s-app": "kube-dns"}
            continue
        assert ports == {("TCP", 80), ("TCP", 443)}, rule
        assert all(set(peer) == {"ipBlock"} for peer in peers), rule
        blocks += [peer["ipBlock"] for peer in peers]
    assert {b["cidr"] for b in blocks} == {"0.0.0.0/0", "::/0"}
    excepted = [ipaddress.ip_network(e) for b in blocks for e in b["except"]]
    for network in NEVER_FROM_A_SANDBOX:
        assert any(
            network.version == e.version and network.subnet_of(e)  # type: ignore[arg-type]
            for e in excepted
        ), f"{network} is reachable from a sandbox"
    assert not any(e.prefixlen == 0 for e in excepted)


def test_every_workload_has_a_disruption_budget(stack: Manifests) -> None:
    budgets = stack.of_kind("PodDisruptionBudget")
    assert all(b["apiVersion"] == "policy/v1" for b in budgets)
    for kind, name in WORKLOADS:
        if kind == "PodTemplate":
            continue  # one Pod per session: deleting it is the session's end, not a drain
        labels = stack.one(kind, name)["spec"]["template"]["metadata"]["labels"]
        covering = [b for b in budgets if selects(b["spec"]["selector"], labels)]
        assert len(covering) == 1, f"{kind}/{name}"
        assert covering[0]["spec"]["maxUnavailable"] == 1


def test_the_safety_gate_scales_on_cpu(stack: Manifests) -> None:
    (hpa,) = stack.of_kind("HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "safety",
    }
    assert 1 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    gate = container(stack.pod_spec("Deployment", "safety"), "safety")
    assert gate["resources"]["requests"]["cpu"]  # utilisation is measured against it


def test_orchestrators_run_at_least_two_replicas(stack: Manifests) -> None:
    assert stack.one("Deployment", "orchestrator")["spec"]["replicas"] >= 2


def test_the_gateway_lets_websockets_drain_before_it_stops(stack: Manifests) -> None:
    spec = stack.pod_spec("Deployment", "gateway")
    assert spec["terminationGracePeriodSeconds"] >= 300  # its drain fits: test_k8s_wiring
    assert container(spec, "gateway")["lifecycle"]["preStop"]["exec"]["command"][0] == "sleep"


def test_nats_is_a_jetstream_statefulset_that_leaves_in_lame_duck_mode(
    stack: Manifests,
) -> None:
    nats = stack.one("StatefulSet", "nats")
    assert nats["spec"]["replicas"] == (3 if stack.overlay == "prod" else 1)
    (claim,) = nats["spec"]["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "data"
    server = container(nats["spec"]["template"]["spec"], "nats")
    assert {"mountPath": "/data", "name": "data"} in server["volumeMounts"]
    assert server["readinessProbe"]["httpGet"]["path"] == "/healthz?js-server-only=true"
    assert server["lifecycle"]["preStop"]["exec"]["command"] == [
        "nats-server",
        "--signal",
        "ldm=/var/run/nats/nats.pid",
    ]
    config = stack.one("ConfigMap", nats_config_name(nats))["data"]
    assert "pid_file: /var/run/nats/nats.pid" in config["nats.conf"]
    assert "lame_duck_duration: 30s" in config["nats.conf"]
    # The Pod outlives lame duck (30 s) and its grace period (10 s).
    assert nats["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > 40
    assert ("routes" in config["cluster.conf"]) == (stack.overlay == "prod")


def nats_config_name(nats: dict[str, Any]) -> str:
    volumes = nats["spec"]["template"]["spec"]["volumes"]
    return next(v["configMap"]["name"] for v in volumes if v["name"] == "config")


def test_the_sandbox_template_bounds_and_isolates_each_desktop(stack: Manifests) -> None:
    spec = stack.pod_spec("PodTemplate", "sandbox")
    assert spec["automountServiceAccountToken"] is False
    assert spec["enableServiceLinks"] is False
    assert spec["restartPolicy"] == "Never"
    assert 0 < spec["activeDeadlineSeconds"] <= 24 * 3600
    volumes = {v["name"]: v for v in spec["volumes"]}
    desktop = container(spec, "sandbox")
    mounts = {m["mountPath"]: m["name"] for m in desktop["volumeMounts"]}
    assert volumes[mounts["/dev/shm"]]["emptyDir"]["medium"] == "Memory"
    assert volumes[mounts["/dev/shm"]]["emptyDir"]["sizeLimit"]
    for volume in volumes.values():
        if "emptyDir" in volume:  # bounded, or one desktop could fill the node's disk
            assert volume["emptyDir"]["sizeLimit"], volume["name"]
    if stack.overlay == "prod":
        assert spec["runtimeClassName"] == "gvisor"
    else:
        assert "runtimeClassName" not in spec


def test_the_session_secret_reaches_only_the_init_container(stack: Manifests) -> None:
    spec = stack.pod_spec("PodTemplate", "sandbox")
    (secret_volume,) = [v for v in spec["volumes"] if "secret" in v]
    mounting = [
        c["name"]
        for c in containers(spec)
        if any(m["name"] == secret_volume["name"] for m in c.get("volumeMounts", []))
    ]
    assert mounting == ["credential"]
    # The credential is handed over in memory, where the sandbox deletes it once read.
    copy = container(spec, "credential")
    target = copy["command"][-1]
    desktop = container(spec, "sandbox")
    env = {e["name"]: e for e in desktop["env"]}
    assert env["DESKPILOT_SANDBOX_CREDENTIAL_FILE"]["value"] == target
    (holder,) = [m for m in desktop["volumeMounts"] if target.startswith(m["mountPath"] + "/")]
    volume = next(v for v in spec["volumes"] if v["name"] == holder["name"])
    assert volume["emptyDir"]["medium"] == "Memory"
