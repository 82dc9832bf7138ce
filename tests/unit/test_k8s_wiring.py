"""The manifests agree with the code they deploy, so neither can drift: ports, health
checks and the addresses each service is given match the stack's description
(`deskpilot.cli.components`); every `DESKPILOT_*` variable is a setting its service has,
with a value it accepts; every Secret and file a service is pointed at is one that
`k8s/make_secrets.py` makes; and the NATS configuration, with those Secrets, is one a
real nats-server runs, lets the services in and leaves in lame duck mode."""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from pydantic import BaseModel

from deskpilot.bus import Bus
from deskpilot.bus.errors import BusRefused
from deskpilot.cli.components import COMPONENTS, ComponentSpec, component
from deskpilot.cli.serving import Grpc, Http, Nats
from deskpilot.common.config import (
    ENV_PREFIX,
    NESTED_ENV_DELIMITER,
    SHARED_FIELDS,
    CommonSettings,
    ServiceSettings,
    SettingsError,
    load_settings,
)
from deskpilot.common.identity import Role
from deskpilot.common.keys import load_public_key
from deskpilot.common.natsserver import find_nats_server
from deskpilot.common.net import free_port
from deskpilot.common.tokens import TokenVerifier
from tests.helpers.k8s import (
    K8S,
    OVERLAYS,
    SYSTEM,
    Manifests,
    container,
    containers,
    manifests,
    mounted_secrets,
    render,
)

# The components that run as a workload of their own in the cluster (the sandbox's
# executors run inside each sandbox Pod; the stand-in is for tests and demos).
DEPLOYED = [c for c in COMPONENTS if c.in_local_stack and not c.on_request]
WORKLOAD_KIND = {"nats": "StatefulSet"}

# Settings the manifests already set that the code does not have yet: stream replicas
# for a JetStream cluster. Each
# is checked to be still missing, so the entry goes once the code lands (and the value
# is checked from then on).
PENDING: dict[str, str] = {}
SANDBOX_SETTINGS = "deskpilot.sandbox.settings:SandboxSettings"


@pytest.fixture(params=OVERLAYS)
def stack(request: pytest.FixtureRequest) -> Manifests:
    return manifests(request.param)


def _workload(stack: Manifests, spec: ComponentSpec) -> dict[str, Any]:
    return stack.pod_spec(WORKLOAD_KIND.get(spec.name, "Deployment"), spec.name)


def _env(container_spec: dict[str, Any]) -> dict[str, str]:
    """The container's plain variables (values from fields or Secrets left out)."""
    return {e["name"]: e["value"] for e in container_spec.get("env", []) if "value" in e}


def _port_number(container_spec: dict[str, Any], port: int | str) -> int:
    if isinstance(port, int):
        return port
    return next(p["containerPort"] for p in container_spec["ports"] if p["name"] == port)


@pytest.mark.parametrize("spec", DEPLOYED, ids=lambda c: c.name)
def test_each_service_listens_and_is_reached_where_the_stack_says(
    stack: Manifests, spec: ComponentSpec
) -> None:
    assert spec.port is not None
    server = container(_workload(stack, spec), spec.name)
    assert spec.port.default in {p["containerPort"] for p in server["ports"]}
    service = stack.one("Service", spec.name)
    assert spec.port.default in {p["port"] for p in service["spec"]["ports"]}
    if spec.module:  # a deskpilot service: told its port, on the Pod's address
        env = _env(server)
        prefix = f"{ENV_PREFIX}{spec.name.upper()}_"
        assert env[f"{prefix}PORT"] == str(spec.port.default)
        assert env[f"{prefix}HOST"] == "0.0.0.0"
        if any(p["name"] == "metrics" for p in server["ports"]):  # a Prometheus port
            assert env[f"{prefix}METRICS_PORT"] == str(_port_number(server, "metrics"))
            assert env[f"{prefix}METRICS_HOST"] == "0.0.0.0"


@pytest.mark.parametrize("spec", [c for c in DEPLOYED if c.module], ids=lambda c: c.name)
def test_each_service_has_the_time_it_needs_to_stop(stack: Manifests, spec: ComponentSpec) -> None:
    # The kubelet waits for the preStop hook, then SIGTERM: the service's own drain
    # (--grace-seconds) must end before the Pod's grace period does, or SIGKILL cuts it.
    pod = _workload(stack, spec)
    server = container(pod, spec.name)
    variable = f"{ENV_PREFIX}{spec.name.upper()}_GRACE_SECONDS"
    default = ServiceSettings.model_fields["grace_seconds"].default
    grace = float(_env(server).get(variable, default))
    hook = server.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    pause = float(hook[1]) if hook[:1] == ["sleep"] else 0.0
    assert pod["terminationGracePeriodSeconds"] > pause + grace


@pytest.mark.parametrize("spec", [c for c in DEPLOYED if c.wires], ids=lambda c: c.name)
def test_each_service_is_given_its_dependencies_at_their_services(
    stack: Manifests, spec: ComponentSpec
) -> None:
    env = _env(container(_workload(stack, spec), spec.name))
    for wire in spec.wires:
        if wire.optional:
            continue  # the stand-in: a test and demo double, not deployed
        dependency = component(wire.dependency)
        assert dependency.port is not None
        in_cluster = f"{dependency.name}:{dependency.port.default}"
        variable = (
            f"{ENV_PREFIX}{spec.name.upper()}_"
            + wire.flag.removeprefix("--")
            .replace(".", NESTED_ENV_DELIMITER)
            .replace("-", "_")
            .upper()
        )
        assert env[variable] == dependency.serves.url(in_cluster), variable
        stack.one("Service", dependency.name)  # which exists


@pytest.mark.parametrize("spec", DEPLOYED, ids=lambda c: c.name)
def test_each_service_is_probed_the_way_the_stack_checks_it(
    stack: Manifests, spec: ComponentSpec
) -> None:
    if spec.planned:
        pytest.skip(f"{spec.name} is planned in components.py: its health is not final")
    assert spec.port is not None
    server = container(_workload(stack, spec), spec.name)
    for probe in ("startupProbe", "readinessProbe"):
        match spec.serves:
            case Grpc(health_service=service):
                # Kubernetes' own gRPC probe: no probe binary in the image.
                assert server[probe]["grpc"] == {"port": spec.port.default, "service": service}
            case Http(health_path=path):
                check = server[probe]["httpGet"]
                assert check["path"] == path
                assert _port_number(server, check["port"]) == spec.port.default
            case Nats():  # the monitoring port's /healthz (see the NATS tests)
                assert server[probe]["httpGet"]["path"].startswith("/healthz")


def _settings_classes() -> dict[str, type[CommonSettings] | str]:
    """Variable prefix → settings class of every component the manifests configure
    (or why it cannot be loaded here: a planned component's package is absent)."""
    classes: dict[str, type[CommonSettings] | str] = {}
    described = [(c.name, c.settings, c.planned) for c in COMPONENTS if c.settings]
    for name, path, planned in [*described, ("sandbox", SANDBOX_SETTINGS, False)]:
        module, _, class_name = path.partition(":")
        try:
            cls = getattr(__import__(module, fromlist=[class_name]), class_name)
        except ImportError:
            if not planned:
                raise
            classes[f"{ENV_PREFIX}{name.upper()}_"] = f"{name} is planned, not installed"
            continue
        classes[cls.env_prefix()] = cls
    return classes


def _is_setting(cls: type[BaseModel], path: list[str]) -> bool:
    """Whether the names `path` lead to a field of `cls`, through nested groups."""
    field = cls.model_fields.get(path[0])
    if field is None:
        return False
    if len(path) == 1:
        return True
    group = field.annotation
    return isinstance(group, type) and issubclass(group, BaseModel) and _is_setting(group, path[1:])


def _setting_of(prefix: str, cls: type[CommonSettings], variable: str) -> bool:
    if variable.startswith(prefix):
        names = variable.removeprefix(prefix).lower().split(NESTED_ENV_DELIMITER)
        return _is_setting(cls, names)
    return variable.removeprefix(ENV_PREFIX).lower() in SHARED_FIELDS


def test_every_deskpilot_variable_is_a_setting_its_service_accepts(
    stack: Manifests, monkeypatch: pytest.MonkeyPatch
) -> None:
    classes = _settings_classes()
    checked = 0
    for where, _, spec in stack.pod_specs():
        for c in containers(spec):
            variables = {
                e["name"]: e.get("value", "from-the-cluster")
                for e in c.get("env", [])
                if e["name"].startswith(ENV_PREFIX)
            }
            if not variables:
                continue
            (prefix,) = {p for p in classes if any(v.startswith(p) for v in variables)}
            cls = classes[prefix]
            if isinstance(cls, str):
                continue  # the gateway until its package lands: nothing to check against
            for name in list(os.environ):
                if name.startswith(ENV_PREFIX):
                    monkeypatch.delenv(name)
            for variable, value in variables.items():
                if variable in PENDING:
                    continue
                assert _setting_of(prefix, cls, variable), f"{where}: {variable} is no setting"
                monkeypatch.setenv(variable, value)
            try:
                load_settings(cls, argv=[])
            except SettingsError as err:
                pytest.fail(f"{where} container {c['name']}: {err}")
            checked += 1
    assert checked >= 3  # orchestrator, safety and the sandbox at least


def test_pending_settings_are_still_missing_from_the_code(monkeypatch: pytest.MonkeyPatch) -> None:
    cls = _settings_classes()["DESKPILOT_ORCHESTRATOR_"]
    assert not isinstance(cls, str)
    for name in list(os.environ):
        if name.startswith(ENV_PREFIX):
            monkeypatch.delenv(name)
    prod = manifests("prod").pod_spec("Deployment", "orchestrator")
    env = _env(container(prod, "orchestrator"))
    for variable, why in PENDING.items():
        if not _setting_of("DESKPILOT_ORCHESTRATOR_", cls, variable):
            continue  # no such setting yet
        monkeypatch.setenv(variable, env[variable])
        try:
            load_settings(cls, argv=["--replica-id", "r"])
        except SettingsError:
            continue  # a setting, but its value is not accepted yet
        finally:
            monkeypatch.delenv(variable)
        pytest.fail(f"{variable} ({why}) works now: drop it from PENDING")


@pytest.fixture(scope="module")
def secrets_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What an operator runs once: k8s/make_secrets.py into a fresh folder."""
    out = tmp_path_factory.mktemp("k8s") / "secrets"
    result = subprocess.run(
        [sys.executable, str(K8S / "make_secrets.py"), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def made_secrets(secrets_folder: Path) -> dict[str, dict[str, bytes]]:
    """Secret name → key → content, as `kubectl apply -k` of that folder would create."""
    made = {}
    for secret in render(secrets_folder):
        assert secret["kind"] == "Secret" and secret["metadata"]["namespace"] == SYSTEM
        for version in ("1.29", "1.33"):
            kubernetes_validate.validate(secret, version, strict=True)
        made[secret["metadata"]["name"]] = {
            k: base64.b64decode(v) for k, v in secret["data"].items()
        }
    return made


def test_make_secrets_refuses_to_overwrite_a_signing_key(secrets_folder: Path) -> None:
    again = subprocess.run(
        [sys.executable, str(K8S / "make_secrets.py"), "--out", str(secrets_folder)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 2
    assert "signing.key exists: pass --reuse-keys" in again.stderr


def test_every_secret_a_service_mounts_is_made_with_the_files_it_reads(
    stack: Manifests, made_secrets: dict[str, dict[str, bytes]]
) -> None:
    for where, _, spec in stack.pod_specs():
        if where == "PodTemplate/sandbox":
            continue  # its Secret is the session's, made by the orchestrator
        for c in containers(spec):
            mounts = mounted_secrets(spec, c)
            for secret in mounts.values():
                assert secret in made_secrets, f"{where} mounts {secret}, which nothing makes"
            for ref in (e["valueFrom"]["secretKeyRef"] for e in c.get("env", []) if
                        "secretKeyRef" in e.get("valueFrom", {})):  # fmt: skip
                assert ref.get("optional") or ref["name"] in made_secrets, ref
            for variable, value in _env(c).items():
                if not variable.endswith("_FILE"):
                    continue
                path = Path(value)
                secret = mounts.get(str(path.parent))
                assert secret is not None, f"{where}: {variable}={value} is in no Secret"
                assert path.name in made_secrets[secret], f"{where}: {secret} has no {path.name}"


def test_the_service_tokens_made_are_verified_by_the_public_key_mounted(
    secrets_folder: Path, made_secrets: dict[str, dict[str, bytes]]
) -> None:
    key_file = secrets_folder / "from-secret.pub"
    key_file.write_bytes(made_secrets["deskpilot-auth"]["signing.pub"])
    verifier = TokenVerifier(load_public_key(key_file))
    for role in (Role.ORCHESTRATOR, Role.GATEWAY):
        identity = verifier.verify(made_secrets[f"deskpilot-{role}"]["token"].decode().strip())
        assert identity.role == role
    assert "signing.key" not in {k for keys in made_secrets.values() for k in keys}


class NatsFiles:
    """The rendered NATS config and the Secret's authorization laid out under `root` as
    the StatefulSet mounts them, with the container's paths moved below `root`."""

    def __init__(self, stack: Manifests, made: dict[str, dict[str, bytes]], root: Path) -> None:
        self.root = root
        nats = stack.one("StatefulSet", "nats")
        spec = nats["spec"]["template"]["spec"]
        self.server = container(spec, "nats")
        volumes = {v["name"]: v for v in spec["volumes"]}
        self._mounts = [m["mountPath"] for m in self.server["volumeMounts"]]
        for mount in self.server["volumeMounts"]:
            volume = volumes.get(mount["name"], {})
            if "configMap" in volume:
                data = stack.one("ConfigMap", volume["configMap"]["name"])["data"]
                files = {k: self.here(v).encode() for k, v in data.items()}
            elif "secret" in volume:
                files = made[volume["secret"]["secretName"]]
            else:
                files = {}
            target = root / mount["mountPath"].lstrip("/")
            target.mkdir(parents=True, exist_ok=True)
            for name, content in files.items():
                (target / name).write_bytes(content)
        args = self.server["args"]
        self.config = Path(self.here(args[args.index("--config") + 1]))

    def here(self, text: str) -> str:
        """`text` with each path inside one of the container's mounts moved below root."""
        for mount in self._mounts:
            text = text.replace(f"{mount}/", f"{self.root / mount.lstrip('/')}/")
        return text


def _nats_env() -> dict[str, str]:
    return {**os.environ, "POD_NAME": "nats-0"}


def test_nats_accepts_the_rendered_configuration(
    stack: Manifests, made_secrets: dict[str, dict[str, bytes]], tmp_path: Path
) -> None:
    files = NatsFiles(stack, made_secrets, tmp_path)
    result = subprocess.run(
        [find_nats_server(), "-t", "-c", str(files.config)],
        capture_output=True,
        text=True,
        env=_nats_env(),
        timeout=30,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is valid" in result.stdout + result.stderr


async def test_nats_from_the_manifests_lets_in_the_services_and_leaves_in_lame_duck(
    made_secrets: dict[str, dict[str, bytes]], secrets_folder: Path, tmp_path: Path
) -> None:
    files = NatsFiles(manifests("dev"), made_secrets, tmp_path)
    port, monitor = free_port(), free_port()
    # The manifests' config as it is; only this machine's addresses come as flags.
    process = await asyncio.create_subprocess_exec(
        find_nats_server(), "-c", str(files.config), "-a", "127.0.0.1", "-p", str(port),
        "-m", str(monitor),
        env=_nats_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        probe = files.server["readinessProbe"]["httpGet"]["path"]
        status = await asyncio.to_thread(_http_status, f"http://127.0.0.1:{monitor}{probe}", 15)
        assert status == 200
        url = f"nats://127.0.0.1:{port}"
        orchestrator = await Bus.connect(
            url, "orchestrator", seed_file=secrets_folder / "orchestrator" / "nats.nk"
        )
        try:
            await orchestrator.ensure_resources()  # creates the stream, buckets and store
        finally:
            await orchestrator.close()
        gateway = await Bus.connect(
            url, "gateway", seed_file=secrets_folder / "gateway" / "nats.nk"
        )
        await gateway.close()
        with pytest.raises(BusRefused):
            await Bus.connect(url, "anyone")
        # The preStop hook as the kubelet runs it (its pid file moved below tmp_path).
        command = [files.here(a) for a in files.server["lifecycle"]["preStop"]["exec"]["command"]]
        hook = await asyncio.create_subprocess_exec(find_nats_server(), *command[1:])
        assert await asyncio.wait_for(hook.wait(), 10) == 0
        assert await asyncio.wait_for(process.wait(), 60) == 0
        assert process.stderr is not None
        assert b"Entering lame duck mode" in await process.stderr.read()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def _http_status(url: str, within: float) -> int:
    deadline = time.monotonic() + within
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                return int(answer.status)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
