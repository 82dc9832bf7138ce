"""`deskpilot token mint`, `deskpilot token SESSION` and `deskpilot token revoke`: scoped
tokens for people and services, signed with the local stack's key, share links to one
session's page, and their revocation.

`mint` prints the token on stdout (or writes it to --out with mode 0600) and what it
grants on stderr, including its id, which `revoke` adds to the revocation list every
service re-reads. `deskpilot token SESSION` (short for `deskpilot token share SESSION`)
prints a link to that session's page in the gateway, with a token for that session only
in the link's fragment (`#token=…`), which browsers never send to a server or log.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
from pathlib import Path

from deskpilot.cli.local_auth import DEFAULT_DATA_DIR, LOCAL_TENANT, local_auth, login_name
from deskpilot.common.identity import Role
from deskpilot.common.keys import KeyFileError, load_private_key, write_private
from deskpilot.common.revocation import revoke
from deskpilot.common.tokens import MAX_TTL_SECONDS, TokenSigner, unverified_claims

_DEFAULT_AUTH = local_auth(DEFAULT_DATA_DIR)
ACTIONS = ("mint", "share", "revoke")
DEFAULT_GATEWAY = "http://127.0.0.1:8080"
SHARE_ROLES = (Role.VIEWER.value, Role.USER.value)
_TTL = re.compile(r"^([0-9]+)([smhd]?)$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def add_token_parser(commands: argparse._SubParsersAction) -> None:
    token = commands.add_parser("token", help="mint or revoke tokens (needs the stack's key)")
    actions = token.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    mint = actions.add_parser(
        "mint",
        help="print a new signed token",
        description="Mint a token with the local stack's signing key. Print it on stdout "
        "(or write it to --out, mode 0600); what it grants, and its id, go to stderr.",
    )
    mint.add_argument("--role", default="user", choices=[r.value for r in Role])
    mint.add_argument("--tenant", default=LOCAL_TENANT, help=f"(default {LOCAL_TENANT})")
    mint.add_argument("--subject", help="the name it records (default: your login)")
    mint.add_argument("--session", default="", metavar="ID", help="only this session")
    mint.add_argument(
        "--ttl", default="1h", help="lifetime: seconds, or with s, m, h, d (default 1h)"
    )
    mint.add_argument("--out", type=Path, metavar="FILE", help="write it here (mode 0600)")
    mint.add_argument(
        "--key-file",
        type=Path,
        default=_DEFAULT_AUTH.private_key_file,
        help=f"the signing key (default {_DEFAULT_AUTH.private_key_file}, by `deskpilot up`)",
    )
    share = actions.add_parser(
        "share",
        help="print a link to one session's page (also: deskpilot token SESSION)",
        description="Mint a token for one session only and print a link to its page in the "
        "gateway, the token in the link's #fragment (never sent to a server or logged). "
        "What it grants, and its id for `deskpilot token revoke`, go to stderr.",
    )
    share.add_argument("session", metavar="SESSION", help="the session id")
    share.add_argument(
        "--role", default=Role.VIEWER.value, choices=SHARE_ROLES,
        help="viewer: watch only (default); user: may also chat, approve and take control",
    )  # fmt: skip
    share.add_argument("--subject", default="guest", help="the name it records (default guest)")
    share.add_argument("--tenant", default=LOCAL_TENANT, help=f"(default {LOCAL_TENANT})")
    share.add_argument("--ttl", default="1h", help="lifetime (default 1h)")
    share.add_argument(
        "--gateway",
        default=DEFAULT_GATEWAY,
        help=f"the gateway's address (default {DEFAULT_GATEWAY})",
    )
    share.add_argument(
        "--key-file", type=Path, default=_DEFAULT_AUTH.private_key_file, help="the signing key"
    )
    revoke_cmd = actions.add_parser(
        "revoke",
        help="revoke a token (by its id, or the token itself)",
        description="Add a token's id to the revocation list; every service refuses it "
        "from its next call on.",
    )
    revoke_cmd.add_argument("token", metavar="ID_OR_TOKEN")
    revoke_cmd.add_argument(
        "--revoked-file",
        type=Path,
        default=_DEFAULT_AUTH.revoked_file,
        help=f"the revocation list (default {_DEFAULT_AUTH.revoked_file})",
    )
    revoke_cmd.add_argument("--note", default="", help="why (kept beside the id)")


def token_command(args: argparse.Namespace) -> int:
    try:
        if args.token_command == "mint":
            return _mint(args)
        if args.token_command == "share":
            return _share(args)
        return _revoke(args)
    except (ValueError, KeyFileError, OSError) as exc:
        print(f"deskpilot token {args.token_command}: {exc}", file=sys.stderr)
        return 2


def _mint(args: argparse.Namespace) -> int:
    ttl = parse_ttl(args.ttl)
    signer = TokenSigner(load_private_key(args.key_file))
    subject = args.subject or login_name()
    token = signer.mint(subject, args.tenant, args.role, ttl_seconds=ttl, session_id=args.session)
    claims = unverified_claims(token)
    if args.out:
        write_private(args.out, (token + "\n").encode())
    else:
        print(token)
    scope = f"session {args.session} only" if args.session else "all its sessions"
    expires = dt.datetime.fromtimestamp(claims["exp"], dt.UTC).isoformat(timespec="seconds")
    where = f", written to {args.out}" if args.out else ""
    print(
        f"{args.role} token for {subject} of tenant {args.tenant} ({scope}), id "
        f"{claims['jti']}, expires {expires}{where}",
        file=sys.stderr,
    )
    return 0


def _share(args: argparse.Namespace) -> int:
    ttl = parse_ttl(args.ttl)
    gateway = args.gateway.rstrip("/")
    if not gateway.startswith(("http://", "https://")):
        raise ValueError(f"--gateway must be an http:// or https:// address (got {args.gateway!r})")
    signer = TokenSigner(load_private_key(args.key_file))
    token = signer.mint(
        args.subject, args.tenant, args.role, ttl_seconds=ttl, session_id=args.session
    )
    claims = unverified_claims(token)
    print(login_link(f"{gateway}/sessions/{args.session}", token))
    expires = dt.datetime.fromtimestamp(claims["exp"], dt.UTC).isoformat(timespec="seconds")
    print(
        f"{args.role} link for {args.subject} to session {args.session} only, token id "
        f"{claims['jti']}, expires {expires} (`deskpilot token revoke {claims['jti']}` ends it)",
        file=sys.stderr,
    )
    return 0


def login_link(page: str, token: str) -> str:
    """`page` with `token` in its fragment: the browser keeps it from servers and logs,
    and the page trades it for an HttpOnly cookie, then removes it from the address."""
    return f"{page}#token={token}"


def token_argv(argv: list[str]) -> list[str]:
    """`deskpilot token SESSION …` as `deskpilot token share SESSION …`."""
    # -h and --help stay with the token parser.
    if len(argv) >= 2 and argv[0] == "token" and argv[1] not in ACTIONS and argv[1][:1] != "-":
        return ["token", "share", *argv[1:]]
    return argv


def _revoke(args: argparse.Namespace) -> int:
    token_id = args.token
    if token_id.count(".") == 2:  # a whole token: revoke its id
        token_id = str(unverified_claims(token_id).get("jti", ""))
    revoke(args.revoked_file, token_id, args.note)
    print(f"revoked {token_id} in {args.revoked_file}", file=sys.stderr)
    return 0


def parse_ttl(text: str) -> float:
    """`90`, `30m`, `1h`, `7d` as seconds; ValueError names what is allowed."""
    match = _TTL.match(text.strip())
    seconds = int(match[1]) * _UNIT_SECONDS[match[2]] if match else 0
    if not 0 < seconds <= MAX_TTL_SECONDS:
        raise ValueError(
            f"--ttl must be a positive number of seconds, or with s, m, h or d (e.g. 1h), "
            f"at most {MAX_TTL_SECONDS // 86400} days (got {text!r})"
        )
    return float(seconds)
