"""Hosts and URLs: extracting them from text and checking them against an allow-list."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
URL_RE = re.compile(r"\b(?:https?|ftp|ftps|sftp|wss?|smtps?|git|ssh|rsync)://[^\s'\"<>`]+", re.I)
# scp-style remotes: user@host:path
_SCP_RE = re.compile(
    r"^(?:[\w.+-]+@([A-Za-z0-9.-]+)|([A-Za-z0-9.-]+\.[A-Za-z]{2,}|\d+\.\d+\.\d+\.\d+)):"
)
_BARE_HOST_RE = re.compile(
    r"^(?:www\.)?[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,24}(?::\d+)?(?:[/?#]\S*)?$", re.I
)


def normalise_domain(value: str) -> str | None:
    """Lower-case, IDNA-encoded, trailing dot removed; None if not a host name or IP."""
    host = value.strip().lower().rstrip(".")
    if host.startswith("*."):
        host = host[2:]
    if not host:
        return None
    if _is_ip(host):
        return host
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    labels = host.split(".")
    if len(labels) < 1 or not all(_LABEL.match(label) for label in labels):
        return None
    return host


def host_of_url(url: str) -> str | None:
    """The host a URL points at (user-info tricks like `a.com@b.com` resolve to b.com)."""
    if "://" not in url:
        url = "http://" + url
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    return normalise_domain(host) if host else None


def hosts_in_text(text: str) -> list[str]:
    """Hosts of every URL in `text`."""
    hosts = []
    for match in URL_RE.finditer(text):
        host = host_of_url(match.group(0))
        if host:
            hosts.append(host)
    return hosts


def host_of_remote(word: str) -> str | None:
    """The host of a URL, an scp-style `user@host:path`, or a bare `host.tld/...`."""
    if URL_RE.match(word):
        return host_of_url(word)
    match = _SCP_RE.match(word)
    if match:
        return normalise_domain(match.group(1) or match.group(2))
    if "@" in word and "/" not in word.split("@", 1)[0]:
        return host_of_plain(word.split("@", 1)[1])
    return None


def host_of_plain(word: str) -> str | None:
    """A bare host name or IP (`evil.com`, `10.0.0.1`, `evil.com/path`), else None."""
    word = word.strip()
    if _is_ip(word):
        return word
    if _BARE_HOST_RE.match(word):
        return host_of_url(word)
    return None


def is_allowed(host: str, allowed: Iterable[str], allow_loopback: bool = True) -> bool:
    """Whether `host` is an allow-listed domain or one of its subdomains."""
    if allow_loopback and _is_loopback(host):
        return True
    return any(host == d or host.endswith("." + d) for d in allowed)


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        return False
    return True


def _is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
