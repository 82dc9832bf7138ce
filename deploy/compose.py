"""One machine, real containers: the stack's images in one podman Pod, the step between
`make run` (processes) and a cluster (k8s/).

`up` writes the stack's identities (as `deskpilot up` does: signing key, tokens, NATS
nkeys, the sandboxes' secrets key) under var/compose, a copy of what each container may
read owned by its user, and a Pod manifest, then plays it with `podman kube play`. The
containers share the Pod's network: every service listens on the Pod's loopback, except
the gateway, which the host reaches at 127.0.0.1:8080. Each runs as in its Kubernetes Pod:
its own uid, read-only root, every capability dropped, no new privileges. One sandbox
container serves every session, one at a time (the orchestrator's `existing` provider);
a cluster makes one per session.

    python3 deploy/compose.py up       # make images first (`make compose` does both)
    python3 deploy/compose.py down
    python3 deploy/compose.py render   # only write var/compose/pod.json

`--name`, `--port` and `--data-dir` run another copy beside it (the tests do).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from podman import podman

from deskpilot.bus.identities import BusRole, authorization
from deskpilot.cli import local_auth
from deskpilot.cli.token_main import login_link
from deskpilot.common.sandbox_credential import new_credential, write_credential_file

ROOT = Path(__file__).resolve().parent.parent
SERVICE_UID, SANDBOX_UID = 10001, 1000  # the images' users (deploy/README.md)


@dataclass(frozen=True)
class Compose:
    name: str = "deskpilot"  # the Pod's; its containers are <name>-<service>
    port: int = 8080  # the gateway's, on the host's 127.0.0.1
    data: Path = ROOT / "var" / "compose"


# Where each listens on the Pod's loopback: the stack's ports, and the sandbox image's.
ADDRESSES = {"nats": 4222, "safety": 50053, "orchestrator": 50051, "vnc": 5900,
             "display": 50061, "shell": 50062}  # fmt: skip
LOCKED_DOWN = {
    "readOnlyRootFilesystem": True,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
}


def _own(path: Path, uid: int) -> None:
    """`path` and what it holds, owned by `uid` (as the container's user sees it)."""
    if os.geteuid() == 0:
        for item in [path, *path.rglob("*")]:
            os.chown(item, uid, uid)
    else:  # rootless podman maps container uids into the user's subordinate range
        podman("unshare", "chown", "-R", f"{uid}:{uid}", str(path))


def prepare(data: Path) -> dict[str, Path]:
    """The files each container mounts: `services` (keys, tokens, the NATS config) and
    `sandbox` (its credential, which it deletes once read)."""
    auth = local_auth.prepare(data)
    services, sandbox = data / "services", data / "sandbox"
    for folder in (services, sandbox):
        if folder.exists():
            _own(folder, os.geteuid())
            shutil.rmtree(folder)
        folder.mkdir(mode=0o700)
    for name, source in {
        "signing.pub": auth.public_key_file,
        "revoked": auth.revoked_file,
        "orchestrator.token": auth.orchestrator_token_file,
        "gateway.token": auth.gateway_token_file,
        "secrets.key": auth.secrets_key_file,
        "nats-orchestrator.nk": auth.nats_seed_file(BusRole.ORCHESTRATOR),
        "nats-gateway.nk": auth.nats_seed_file(BusRole.GATEWAY),
    }.items():
        shutil.copy(source, services / name)
    config = {"authorization": authorization(auth.nats_users())}
    (services / "nats.conf").write_text(json.dumps(config, indent=2))
    credential = new_credential()
    write_credential_file(services / "sandbox.credential", credential)
    write_credential_file(sandbox / "credential", credential)
    (services / "vnc-password").write_text(secrets.token_urlsafe(6)[:8])
    for path in services.iterdir():
        path.chmod(0o600)
    _own(services, SERVICE_UID)
    _own(sandbox, SANDBOX_UID)
    return {"services": services, "sandbox": sandbox}


def _env(values: dict[str, str | int]) -> list[dict[str, str]]:
    return [{"name": name, "value": str(value)} for name, value in values.items()]


def _container(
    name: str, uid: int, env: dict[str, str | int], mounts: list[tuple[str, str]], **more: Any
) -> dict[str, Any]:
    return {
        "name": name,
        "image": f"localhost/deskpilot/{'sandbox' if name == 'sandbox' else name}:dev",
        "env": _env(env),
        "securityContext": {**LOCKED_DOWN, "runAsUser": uid, "runAsGroup": uid},
        "volumeMounts": [{"name": v, "mountPath": p} for v, p in mounts],
        **more,
    }


def manifest(compose: Compose, files: dict[str, Path], api_key: str = "") -> dict[str, Any]:
    """The Pod: every service of the stack and one sandbox, wired over its loopback."""
    secret = "/etc/deskpilot"
    local = {name: f"127.0.0.1:{port}" for name, port in ADDRESSES.items()}
    auth = {"PUBLIC_KEY_FILE": f"{secret}/signing.pub", "REVOKED_FILE": f"{secret}/revoked"}

    def service(prefix: str, port: int, **values: str | int) -> dict[str, str | int]:
        base = {"HOST": "127.0.0.1", "PORT": port, "LOG_FORMAT": "json"}
        base |= {f"AUTH__{k}": v for k, v in auth.items()}
        return {f"DESKPILOT_{prefix}_{k}": v for k, v in {**base, **values}.items()}

    services = [("services", secret), ("tmp", "/tmp")]
    orchestrator = service(
        "ORCHESTRATOR", ADDRESSES["orchestrator"],
        NATS_URL=f"nats://{local['nats']}", NATS_SEED_FILE=f"{secret}/nats-orchestrator.nk",
        SAFETY_ADDRESS=local["safety"],
        AUTH__TOKEN_FILE=f"{secret}/orchestrator.token",
        AUTH__SECRETS_KEY_FILE=f"{secret}/secrets.key",
        SANDBOX__PROVIDER="existing",
        SANDBOX__EXISTING__DISPLAY_ADDRESS=local["display"],
        SANDBOX__EXISTING__SHELL_ADDRESS=local["shell"],
        SANDBOX__EXISTING__VNC_ADDRESS=local["vnc"],
        SANDBOX__EXISTING__CREDENTIAL_FILE=f"{secret}/sandbox.credential",
        SANDBOX__EXISTING__VNC_PASSWORD_FILE=f"{secret}/vnc-password",
    )  # fmt: skip
    if api_key:
        orchestrator["ANTHROPIC_API_KEY"] = api_key
    # Reached from the host through the Pod's port: it listens on the Pod's address.
    gateway = service(
        "GATEWAY", compose.port, HOST="0.0.0.0",
        NATS_URL=f"nats://{local['nats']}", NATS_SEED_FILE=f"{secret}/nats-gateway.nk",
        ORCHESTRATOR_ADDRESS=local["orchestrator"], AUTH__TOKEN_FILE=f"{secret}/gateway.token",
        # No load balancer to drain from here: viewers are told and the gateway stops
        # within `podman pod rm`'s 10 s.
        GRACE_SECONDS=3,
    )  # fmt: skip
    sandbox_env = {
        "VNC_HOST": "127.0.0.1", "EXECUTOR_HOST": "127.0.0.1", "VNC_PORT": ADDRESSES["vnc"],
        "DISPLAY_PORT": ADDRESSES["display"], "SHELL_PORT": ADDRESSES["shell"],
        "CREDENTIAL_FILE": "/run/deskpilot/credential/credential",
        "VNC_PASSWORD": (files["services"] / "vnc-password").read_text(),
    }  # fmt: skip
    containers = [
        _container(
            "nats", SERVICE_UID, {}, [("services", secret), ("nats-data", "/data")],
            args=["--config", f"{secret}/nats.conf", "--jetstream", "--store_dir", "/data",
                  "--addr", "127.0.0.1", "--port", str(ADDRESSES["nats"])],
        ),
        _container("safety", SERVICE_UID, service("SAFETY", ADDRESSES["safety"]), services),
        _container(
            "sandbox", SANDBOX_UID,
            {f"DESKPILOT_SANDBOX_{k}": v for k, v in sandbox_env.items()},
            [("sandbox", "/run/deskpilot/credential"), ("home", "/home/deskpilot"),
             ("state", "/run/deskpilot/state"), ("tmp", "/tmp"), ("shm", "/dev/shm")],
        ),
        _container("orchestrator", SERVICE_UID, orchestrator, services),
        _container(
            "gateway", SERVICE_UID, gateway, services,
            ports=[{"containerPort": compose.port, "hostPort": compose.port,
                    "hostIP": "127.0.0.1"}],
        ),
    ]  # fmt: skip
    folders = {name: {"hostPath": {"path": str(path), "type": "Directory"}}
               for name, path in files.items()}  # fmt: skip
    memory = {name: {"emptyDir": {"medium": "Memory"}} for name in ("tmp", "shm")}
    scratch = {name: {"emptyDir": {}} for name in ("nats-data", "home", "state")}
    volumes = {**folders, **memory, **scratch}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": compose.name, "labels": {"app.kubernetes.io/part-of": "deskpilot"}},
        "spec": {
            "restartPolicy": "OnFailure",
            "containers": containers,
            "volumes": [{"name": name, **source} for name, source in volumes.items()],
        },
    }


def render(compose: Compose, api_key: str = "") -> Path:
    compose.data.mkdir(parents=True, exist_ok=True)
    path = compose.data / "pod.json"  # JSON is YAML: `podman kube play` reads it as is
    path.write_text(json.dumps(manifest(compose, prepare(compose.data), api_key), indent=2))
    path.chmod(0o600)  # it holds the sandbox's VNC password (and the API key, if given)
    return path


def up(compose: Compose) -> None:
    api_key = os.environ.get("ANTHROPIC_API_KEY", "")
    path = render(compose, api_key)
    podman("kube", "play", "--replace", str(path))
    page = f"http://127.0.0.1:{compose.port}/"
    token_file = local_auth.local_auth(compose.data).cli_token_file.resolve()
    print(f"compose: pod {compose.name} is up; `podman pod logs {compose.name}` shows its logs")
    link = login_link(page, token_file.read_text().strip())
    print(f"compose: watch and steer in the browser: {link}")
    print(f"compose: admin token for the CLI: {token_file}")
    if not api_key:
        print("compose: no ANTHROPIC_API_KEY: sessions are refused until one is set")


def down(compose: Compose) -> None:
    podman("pod", "rm", "--force", "--ignore", compose.name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["up", "down", "render"])
    parser.add_argument("--name", default=Compose.name, help="the Pod's name")
    parser.add_argument("--port", type=int, default=Compose.port, help="the page's port")
    parser.add_argument("--data-dir", type=Path, default=Compose.data, help="its files")
    args = parser.parse_args()
    compose = Compose(args.name, args.port, args.data_dir.resolve())
    commands = {"up": up, "down": down, "render": lambda c: print(render(c))}
    try:
        commands[args.command](compose)
    except subprocess.CalledProcessError as error:
        sys.exit(f"compose: {error.cmd[0]} failed (exit {error.returncode})")


if __name__ == "__main__":
    main()
