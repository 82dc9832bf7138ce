"""Who may connect to NATS and what each may do there.

Every client of the bus proves who it is with an nkey (an Ed25519 key pair; the server
holds only the public half, the client signs the server's challenge with its seed), and
the server lets each identity publish and subscribe only where its role needs:

- `orchestrator`: everything deskpilot keeps on NATS. It alone publishes session events,
  writes session records and leases, stores screenshots and sends control requests.
- `gateway`: reads. It may look up and follow the events stream and fetch screenshots
  from the object store, and write nothing: no event, no record, no object, no control
  request.

Nobody else gets in: a server configured with these users refuses anonymous connections,
and sandboxes are given no identity at all.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nkeys

from deskpilot.bus.names import EVENTS_STREAM, SCREENSHOTS_BUCKET
from deskpilot.common.keys import write_private

OBJECT_STREAM = f"OBJ_{SCREENSHOTS_BUCKET}"


class BusRole(enum.StrEnum):
    """What a NATS client is."""

    ORCHESTRATOR = "orchestrator"
    GATEWAY = "gateway"


@dataclass(frozen=True)
class Permissions:
    """Subjects one identity may publish to and subscribe to (everything else is denied)."""

    publish: tuple[str, ...]
    subscribe: tuple[str, ...]

    def as_config(self) -> dict[str, Any]:
        return {
            "publish": {"allow": list(self.publish)},
            "subscribe": {"allow": list(self.subscribe)},
        }


def _reading(stream: str) -> tuple[str, ...]:
    """The JetStream API subjects that look up and follow one stream, and nothing else:
    its info, its messages by sequence or subject, and consumers of it (which ordered
    consumers create, acknowledge through and delete)."""
    api = "$JS.API"
    return (
        f"{api}.STREAM.INFO.{stream}",
        f"{api}.STREAM.MSG.GET.{stream}",
        f"{api}.DIRECT.GET.{stream}",
        f"{api}.DIRECT.GET.{stream}.>",
        f"{api}.CONSUMER.CREATE.{stream}",
        f"{api}.CONSUMER.CREATE.{stream}.>",
        f"{api}.CONSUMER.INFO.{stream}.>",
        f"{api}.CONSUMER.DELETE.{stream}.>",
        f"$JS.ACK.{stream}.>",
        f"$JS.FC.{stream}.>",
    )


PERMISSIONS: Mapping[BusRole, Permissions] = {
    BusRole.ORCHESTRATOR: Permissions(
        publish=(
            "deskpilot.sessions.>",  # events and control requests
            "$JS.API.>",  # creates and checks the streams and buckets (ensure_resources)
            "$JS.ACK.>",
            "$JS.FC.>",
            "$KV.>",
            "$O.>",
            "_INBOX.>",  # replies to control requests
        ),
        subscribe=("deskpilot.sessions.*.control", "_INBOX.>"),
    ),
    BusRole.GATEWAY: Permissions(
        # STREAM.NAMES: nats-py finds the stream of a subject before it follows it.
        publish=(
            "$JS.API.INFO",
            "$JS.API.STREAM.NAMES",
            *_reading(EVENTS_STREAM),
            *_reading(OBJECT_STREAM),
        ),
        subscribe=("_INBOX.>",),
    ),
}


def new_seed() -> bytes:
    """A fresh user nkey seed (`SU...`): the secret half, kept by the client only."""
    return nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER)


def public_key(seed: bytes) -> str:
    """The public nkey (`U...`) of `seed`: what the server is told."""
    pair = nkeys.from_seed(bytearray(seed))
    try:
        return pair.public_key.decode()
    finally:
        pair.wipe()


def read_seed(path: Path) -> bytes:
    """The seed in `path` (as `write_seed` or `nsc` writes it); ValueError if it is none."""
    seed = path.read_bytes().strip()
    try:
        public_key(seed)
    except nkeys.NkeysError as err:
        raise ValueError(f"{path} does not hold an nkey seed: {err}") from None
    return seed


def write_seed(path: Path, seed: bytes) -> None:
    """Store `seed` in a file only its owner can read (created that way, never widened)."""
    write_private(path, seed + b"\n")


def authorization(users: Mapping[BusRole, str]) -> dict[str, Any]:
    """The `authorization` block of a nats-server config: one user per public nkey, each
    with its role's permissions. With it the server refuses anonymous clients."""
    return {
        "users": [
            {"nkey": key, "permissions": PERMISSIONS[role].as_config()}
            for role, key in users.items()
        ]
    }
