"""The rule categories and the decision each one asks for unless a policy says otherwise."""

from __future__ import annotations

from deskpilot.safety.verdict import Decision

# Never executed: a session override may not relax these (a deployment policy file may).
BLOCK_CATEGORIES: dict[str, str] = {
    "destruction": "wholesale destruction of a system or home folder",
    "fork_bomb": "a fork bomb",
    "remote_code": "running code fetched from the network",
    "obfuscation": "running code hidden by encoding",
    "reverse_shell": "a reverse or bind shell",
    "exfiltration": "sending credentials or secrets off the machine",
    "defense_evasion": "disabling security tools or wiping logs",
    "privilege_escalation": "gaining root through sudoers, setuid or account changes",
}

# A person approves first.
CONFIRM_CATEGORIES: dict[str, str] = {
    "payment": "purchases, payments, typing a card number",
    "terms": "accepting terms of service or cookie banners",
    "messaging": "sending messages, posting or publishing on the user's behalf",
    "deletion": "deleting user files, force-pushing, dropping databases",
    "install_software": "installing software, or running a program the system warns about",
    "security_settings": "turning off a protection or clearing logs and history in an application",
    "label_mismatch": "a control whose accessible name and on-screen text disagree (a page "
    "can name a button anything)",
    "sudo": "running anything as another user (sudo, su, doas)",
    "network": "reaching a domain outside the session's allow-list",
    "credential_read": "reading credential files",
    "persistence": "changing what runs later (crontab, systemd, shell rc files)",
    "secret_entry": "typing a password or key",
    "system_config": "editing files under /etc, ~/.ssh or the system's program folders",
    "power": "shutting down, rebooting, killing every process or stopping system services",
    "resource_exhaustion": "starting processes that only burn CPU or fill the disk",
    "upload": "sending system files or dotfiles to a server",
    "injection": "acting right after content flagged as a likely prompt injection",
    "unknown_tool": "a tool the gate does not know",
    "unknown_command": "a command the gate cannot read: a program name computed when it "
    "runs, code building commands at run time, text it cannot parse",
    "custom": "rules added by a policy",
}

DEFAULT_DECISIONS: dict[str, Decision] = {
    **dict.fromkeys(BLOCK_CATEGORIES, Decision.BLOCK),
    **dict.fromkeys(CONFIRM_CATEGORIES, Decision.CONFIRM),
}
DEFAULT_DECISIONS["custom"] = Decision.ALLOW  # custom rules carry their own decision

ALL_CATEGORIES = frozenset(DEFAULT_DECISIONS)
