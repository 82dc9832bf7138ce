"""Make the Secrets a deskpilot cluster reads, as a folder to apply once with kustomize:

    .venv/bin/python k8s/make_secrets.py --out ../deskpilot-secrets
    kubectl apply -k ../deskpilot-secrets

The folder holds what `deskpilot up` keeps in `var/auth` on one machine, laid out as the
manifests mount it, and a kustomization that makes one Secret per reader:

- `deskpilot-auth`: `signing.pub`, `revoked` (orchestrator, safety and gateway mount it);
- `deskpilot-orchestrator`: `token`, `secrets.key`, `nats.nk` (the orchestrator's);
- `deskpilot-gateway`: `token`, `nats.nk` (the gateway's);
- `deskpilot-nats-auth`: `authorization.conf`, the NATS users' public nkeys (nats).

`signing.key`, the private key that mints tokens, stays in the folder and goes into no
Secret: keep it offline (`deskpilot token mint --key-file <folder>/signing.key` mints
people's tokens; rerunning this with `--reuse-keys` mints fresh service tokens).
The Anthropic API key is the operator's own:
`kubectl -n deskpilot-system create secret generic deskpilot-anthropic --from-file=api-key=KEYFILE`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from deskpilot.bus.identities import (
    BusRole,
    authorization,
    new_seed,
    public_key,
    read_seed,
    write_seed,
)
from deskpilot.common.identity import Role
from deskpilot.common.keys import (
    KeyFileError,
    generate_key_pair,
    generate_secret_key,
    load_private_key,
    write_private,
)
from deskpilot.common.tokens import MAX_TTL_SECONDS, TokenSigner

NAMESPACE = "deskpilot-system"
DEFAULT_TTL_DAYS = 90
SERVICE_TENANT = "deskpilot"

# Each Secret the manifests mount, and the files (keys) it is made of.
SECRETS: dict[str, tuple[str, ...]] = {
    "deskpilot-auth": ("auth/signing.pub", "auth/revoked"),
    "deskpilot-orchestrator": (
        "orchestrator/token",
        "orchestrator/secrets.key",
        "orchestrator/nats.nk",
    ),
    "deskpilot-gateway": ("gateway/token", "gateway/nats.nk"),
    "deskpilot-nats-auth": ("nats/authorization.conf",),
}


def make_secrets(out: Path, ttl_days: int, reuse_keys: bool) -> None:
    """Write every file of `SECRETS`, the signing key and the kustomization into `out`.
    Keys and seeds already there are kept with `reuse_keys` (tokens are always new);
    without it a folder that holds a signing key is refused, so none is lost."""
    if not 0 < ttl_days * 86400 <= MAX_TTL_SECONDS:
        raise ValueError(f"--ttl-days must be 1 to {MAX_TTL_SECONDS // 86400} (got {ttl_days})")
    signing_key = out / "signing.key"
    if signing_key.exists() and not reuse_keys:
        raise FileExistsError(f"{signing_key} exists: pass --reuse-keys, or another --out")
    out.mkdir(parents=True, exist_ok=True)
    out.chmod(0o700)
    if not signing_key.exists():
        generate_key_pair(signing_key, out / "auth/signing.pub")
    if not (out / "auth/revoked").exists():
        (out / "auth/revoked").write_text("# revoked token ids, one per line\n")
    if not (out / "orchestrator/secrets.key").exists():
        generate_secret_key(out / "orchestrator/secrets.key")

    users = {}
    for role in BusRole:
        seed_file = out / str(role) / "nats.nk"
        if not seed_file.exists():
            write_seed(seed_file, new_seed())
        users[role] = public_key(read_seed(seed_file))
    write_private(
        out / "nats/authorization.conf",
        f"authorization: {json.dumps(authorization(users), indent=2)}\n".encode(),
    )

    signer = TokenSigner(load_private_key(signing_key))
    for role in (Role.ORCHESTRATOR, Role.GATEWAY):
        token = signer.mint(str(role), SERVICE_TENANT, role, ttl_seconds=ttl_days * 86400)
        write_private(out / str(role) / "token", token.encode())

    (out / "kustomization.yaml").write_text(_kustomization())


def _kustomization() -> str:
    """Secrets with fixed names (the manifests name them), no hash suffix: a rerun
    updates them in place, and the services re-read the files when they change."""
    lines = [
        "# Made by k8s/make_secrets.py: kubectl apply -k <this folder>",
        "apiVersion: kustomize.config.k8s.io/v1beta1",
        "kind: Kustomization",
        "generatorOptions:",
        "  disableNameSuffixHash: true",
        "secretGenerator:",
    ]
    for name, files in SECRETS.items():
        lines += [f"  - name: {name}", f"    namespace: {NAMESPACE}", "    files:"]
        lines += [f"      - {Path(f).name}={f}" for f in files]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make_secrets.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder to write (mode 0700)")
    parser.add_argument(
        "--ttl-days",
        type=int,
        default=DEFAULT_TTL_DAYS,
        help=f"lifetime of the services' tokens (default {DEFAULT_TTL_DAYS}, at most "
        f"{MAX_TTL_SECONDS // 86400})",
    )
    parser.add_argument(
        "--reuse-keys",
        action="store_true",
        help="keep the keys and seeds in --out, mint new service tokens",
    )
    args = parser.parse_args(argv)
    try:
        make_secrets(args.out, args.ttl_days, args.reuse_keys)
    except (FileExistsError, KeyFileError, ValueError, OSError) as exc:
        print(f"make_secrets.py: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}: kubectl apply -k {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
