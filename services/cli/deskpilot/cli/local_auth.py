"""The local stack's identities: `deskpilot up` keeps a signing key pair in
`<data dir>/auth/`, and at every start mints the orchestrator's token (for the safety
gate), the gateway's (for the desktops it proxies) and an admin token for the CLI (also
the browser's, through the login link), each in a file only its owner can read. Beside
them: one NATS nkey seed per service that talks to NATS (the server is told only the
public keys, with each role's permissions).

The key pair stays across restarts, so tokens minted with `deskpilot token mint` keep
working; the services get file paths (never a key or token in argv or the environment)
and only the public key: none of them can mint.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from pathlib import Path

from deskpilot.bus.identities import BusRole, new_seed, public_key, read_seed, write_seed
from deskpilot.common.identity import Role
from deskpilot.common.keys import (
    generate_key_pair,
    generate_secret_key,
    load_private_key,
    write_private,
)
from deskpilot.common.tokens import TokenSigner

# Services' tokens and the CLI's are minted afresh at each `deskpilot up`.
TOKEN_TTL_SECONDS = 30 * 86400
LOCAL_TENANT = "local"
# Where `deskpilot up` keeps them, below its data dir, and where the CLI looks by default.
AUTH_FOLDER = "auth"
CLI_TOKEN = "cli.token"
DEFAULT_DATA_DIR = Path("var")


@dataclass(frozen=True)
class LocalAuth:
    """The files of the local stack's identities."""

    folder: Path

    @property
    def private_key_file(self) -> Path:
        return self.folder / "signing.key"

    @property
    def public_key_file(self) -> Path:
        return self.folder / "signing.pub"

    @property
    def revoked_file(self) -> Path:
        return self.folder / "revoked"

    @property
    def orchestrator_token_file(self) -> Path:
        return self.folder / "orchestrator.token"

    @property
    def gateway_token_file(self) -> Path:
        return self.folder / "gateway.token"

    @property
    def secrets_key_file(self) -> Path:
        """The orchestrators' key sealing sandboxes' secrets in session records."""
        return self.folder / "secrets.key"

    @property
    def cli_token_file(self) -> Path:
        return self.folder / CLI_TOKEN

    def nats_seed_file(self, role: BusRole) -> Path:
        return self.folder / f"nats-{role}.nk"

    def nats_users(self) -> dict[BusRole, str]:
        """The public nkey of each service's NATS identity, for the server's config."""
        return {role: public_key(read_seed(self.nats_seed_file(role))) for role in BusRole}

    def service_env(self, service: str) -> dict[str, str]:
        """Where a service finds its key, revocation list and own token (paths only)."""
        prefix = f"DESKPILOT_{service.upper()}_AUTH__"
        env = {
            f"{prefix}PUBLIC_KEY_FILE": str(self.public_key_file.resolve()),
            f"{prefix}REVOKED_FILE": str(self.revoked_file.resolve()),
        }
        if service == "orchestrator":
            env[f"{prefix}TOKEN_FILE"] = str(self.orchestrator_token_file.resolve())
            env[f"{prefix}SECRETS_KEY_FILE"] = str(self.secrets_key_file.resolve())
        if service == "gateway":
            env[f"{prefix}TOKEN_FILE"] = str(self.gateway_token_file.resolve())
        return env

    def nats_env(self, service: str) -> dict[str, str]:
        """Where a service that talks to NATS finds its nkey seed; nothing for the others."""
        if service not in set(BusRole):
            return {}
        seed = self.nats_seed_file(BusRole(service)).resolve()
        return {f"DESKPILOT_{service.upper()}_NATS_SEED_FILE": str(seed)}


def local_auth(data_dir: Path) -> LocalAuth:
    return LocalAuth(data_dir / AUTH_FOLDER)


def prepare(data_dir: Path, admin: str | None = None) -> LocalAuth:
    """Make the key pair if there is none, and mint this start's tokens."""
    auth = local_auth(data_dir)
    auth.folder.mkdir(parents=True, exist_ok=True)
    os.chmod(auth.folder, 0o700)
    if not auth.private_key_file.exists():
        generate_key_pair(auth.private_key_file, auth.public_key_file)
    if not auth.secrets_key_file.exists():
        generate_secret_key(auth.secrets_key_file)
    for role in BusRole:
        if not auth.nats_seed_file(role).exists():
            write_seed(auth.nats_seed_file(role), new_seed())
    if not auth.revoked_file.exists():
        auth.revoked_file.write_text("# revoked token ids, one per line\n")
    signer = TokenSigner(load_private_key(auth.private_key_file))
    orchestrator = signer.mint(
        "orchestrator", LOCAL_TENANT, Role.ORCHESTRATOR, ttl_seconds=TOKEN_TTL_SECONDS
    )
    write_private(auth.orchestrator_token_file, orchestrator.encode())
    gateway = signer.mint("gateway", LOCAL_TENANT, Role.GATEWAY, ttl_seconds=TOKEN_TTL_SECONDS)
    write_private(auth.gateway_token_file, gateway.encode())
    person = signer.mint(
        admin or login_name(), LOCAL_TENANT, Role.ADMIN, ttl_seconds=TOKEN_TTL_SECONDS
    )
    write_private(auth.cli_token_file, person.encode())
    return auth


def login_name() -> str:
    """Who runs this, for the admin token's subject."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER (some containers)
        return "admin"
    return name if name.isascii() and name.replace("-", "").replace("_", "").isalnum() else "admin"
