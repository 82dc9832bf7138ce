"""Classifying file paths: critical system folders, credential stores, persistence files."""

from __future__ import annotations

import re

from deskpilot.safety.shell_parse import normalise_path

# Deleting any of these (recursively) destroys the system or the user's home.
CRITICAL_DIRS = frozenset(
    {
        "/",
        "~",
        "/home",
        "/etc",
        "/usr",
        "/bin",
        "/sbin",
        "/lib",
        "/lib64",
        "/boot",
        "/var",
        "/opt",
        "/srv",
        "/sys",
        "/proc",
        "/dev",
        "/root",
        "/mnt",
        "/media",
        "/snap",
        "/usr/bin",
        "/usr/lib",
        "/usr/local",
        "/var/lib",
        "~/Documents",
        "~/Desktop",
        "~/Pictures",
        "~/.config",
        "~/.local",
    }
)
_CREDENTIAL_RES = tuple(
    re.compile(p)
    for p in (
        r"^~/\.ssh/(?!known_hosts|config$|.*\.pub$)",
        r"^~/\.ssh/?$",
        r"^~/\.aws(/|$)",
        r"^~/\.netrc$",
        r"^~/\.git-credentials$",
        r"^~/\.docker/config\.json$",
        r"^~/\.kube/config$",
        r"^~/\.gnupg(/|$)",
        r"^~/\.password-store(/|$)",
        r"^~/\.config/gcloud(/|$)",
        r"^~/\.azure(/|$)",
        r"^~/\.pgpass$",
        r"^~/\.(npmrc|pypirc)$",
        r"^~/\.local/share/keyrings(/|$)",
        r"^/etc/(g?shadow|sudoers)(-|$)",
        r"^/etc/ssh/ssh_host_.*_key$",
        r"^/proc/[^/]+/(environ|mem)$",
        r"(^|/)\.mozilla/firefox/.*(logins\.json|key[34]\.db|cookies\.sqlite)",
        r"(^|/)\.config/(google-chrome|chromium|BraveSoftware|microsoft-edge)/.*"
        r"(Login Data|Cookies|Web Data)",
        r"(^|/)\.(bash|zsh)_history$",
    )
)
_PERSISTENCE_RES = tuple(
    re.compile(p)
    for p in (
        r"^~/\.(bashrc|bash_profile|bash_login|bash_logout|profile|zshrc|zprofile|zshenv)$",
        r"^~/\.config/(fish/config\.fish|autostart(/|$))",
        r"^~/\.xinitrc$|^~/\.xprofile$",
        r"^~/\.config/systemd(/|$)",
        r"^~/\.ssh/(authorized_keys|rc)$",
        r"^/etc/(profile|bash\.bashrc|zsh/|environment$|rc\.local$|ld\.so\.preload$)",
        r"^/etc/(profile\.d|cron\.|crontab|systemd|init\.d|xdg/autostart|update-motd\.d)",
        r"^/var/spool/cron",
        r"^/(usr/)?lib/systemd",
    )
)
_PRIVESC_RES = (re.compile(r"^/etc/(sudoers(\.d)?(/|$)|passwd$|shadow$|group$)"),)
_SYSTEM_PREFIXES = ("/etc/", "/usr/", "/bin/", "/sbin/", "/lib/", "/lib64/", "/boot/", "/opt/")
_VITAL_RE = re.compile(
    r"^/etc/(passwd|shadow|group|gshadow|sudoers|fstab|hosts|resolv\.conf)$|"
    r"^/(boot|bin|sbin|lib|lib64|usr/bin|usr/sbin|usr/lib)/"
)
_LOG_RES = (re.compile(r"^/var/log(/|$)"), re.compile(r"^~/\.(bash|zsh)_history$"))


def canonical(path: str) -> str:
    """The normalised form the rules compare (`$HOME/x` and `/home/u/x` become `~/x`)."""
    return normalise_path(path.strip())


def is_critical_dir(path: str) -> bool:
    """A folder whose recursive deletion is wholesale destruction (`/`, `~`, `/etc` …)."""
    value = canonical(path)
    if value in ("/*", "~/*", "/.*", "~/.*", "*"):
        return True
    return value.removesuffix("/*").rstrip("/") in CRITICAL_DIRS or value in CRITICAL_DIRS


def is_credential_path(path: str) -> bool:
    """SSH keys, cloud credentials, netrc, shadow, browser password and cookie stores …"""
    value = canonical(path)
    return any(r.search(value) for r in _CREDENTIAL_RES)


def is_persistence_path(path: str) -> bool:
    """Shell rc files, crontabs, systemd units, autostart entries, authorized_keys."""
    value = canonical(path)
    return any(r.search(value) for r in _PERSISTENCE_RES)


def is_privilege_path(path: str) -> bool:
    """sudoers and the account databases."""
    value = canonical(path)
    return any(r.search(value) for r in _PRIVESC_RES)


def is_log_path(path: str) -> bool:
    """System logs and shell history."""
    value = canonical(path)
    return any(r.search(value) for r in _LOG_RES)


def is_system_config_path(path: str) -> bool:
    """Anything under /etc or ~/.ssh, or in the folders holding programs and libraries."""
    value = canonical(path)
    return value.startswith(_SYSTEM_PREFIXES) or value == "/etc" or value.startswith("~/.ssh")


def is_vital_system_file(path: str) -> bool:
    """Files whose deletion breaks the system: account databases, programs, boot files."""
    value = canonical(path)
    return bool(_VITAL_RE.match(value))


def is_account_file(path: str) -> bool:
    """World-readable account and host lists: harmless to read, reconnaissance to send."""
    value = canonical(path.lstrip("@<"))
    return value in ("/etc/passwd", "/etc/group", "/etc/hosts", "/etc/host.conf") or (
        value.startswith("/etc/security/")
    )


def is_block_device(path: str) -> bool:
    """Disks and partitions (`/dev/sda`, `/dev/nvme0n1p2`, `/dev/mapper/…`)."""
    return bool(
        re.match(r"^/dev/(sd|hd|vd|xvd|nvme|mmcblk|disk|mapper/|md\d|dm-|loop)", path.strip())
    )
