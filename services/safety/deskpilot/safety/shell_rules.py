"""Rules over a parsed shell script: each returns findings with a rule id and category."""

from __future__ import annotations

import re
from collections.abc import Iterator

from deskpilot.safety.domains import host_of_plain, host_of_remote, hosts_in_text, is_allowed
from deskpilot.safety.findings import Finding
from deskpilot.safety.paths import (
    canonical,
    is_account_file,
    is_block_device,
    is_credential_path,
    is_critical_dir,
    is_log_path,
    is_persistence_path,
    is_privilege_path,
    is_system_config_path,
    is_vital_system_file,
)
from deskpilot.safety.policy import Policy
from deskpilot.safety.shell_parse import (
    INTERPRETER_RE,
    SHELLS,
    Command,
    Pipeline,
    Script,
    is_shell_runner,
    parse_script,
)

DOWNLOADERS = frozenset({"curl", "wget", "fetch", "aria2c", "lwp-download", "http", "xh"})
NET_SENDERS = frozenset(
    {
        "curl",
        "wget",
        "nc",
        "ncat",
        "netcat",
        "socat",
        "scp",
        "sftp",
        "rsync",
        "ftp",
        "ssh",
        "telnet",
        "mail",
        "mailx",
        "sendmail",
        "mutt",
        "http",
        "xh",
        "openssl",
        "tftp",
    }
)
NET_HOST_ARG = frozenset(
    {
        "ssh",
        "scp",
        "sftp",
        "rsync",
        "nc",
        "ncat",
        "netcat",
        "telnet",
        "ping",
        "ftp",
        "mosh",
        "dig",
        "nslookup",
        "host",
        "traceroute",
    }
)
PARTITIONERS = frozenset({"fdisk", "parted", "sfdisk", "sgdisk"})
FORMATTERS = PARTITIONERS | {"wipefs", "mke2fs", "mkswap", "blkdiscard"}
ACCOUNT_TOOLS = frozenset(
    {
        "useradd",
        "adduser",
        "userdel",
        "deluser",
        "usermod",
        "passwd",
        "chpasswd",
        "groupadd",
        "gpasswd",
        "chsh",
        "dscl",
        "pw",
    }
)
# Uploading files from these folders sends system details off the machine.
_SYSTEM_DATA = ("/etc/", "/proc/", "/sys/", "/var/", "/boot/", "/usr/", "~/.", "/root/")
NETWORK_PROGRAMS = (
    DOWNLOADERS
    | NET_SENDERS
    | NET_HOST_ARG
    | {
        "git",
        "pip",
        "pip3",
        "npm",
        "xdg-open",
        "firefox",
        "chromium",
        "chromium-browser",
        "google-chrome",
        "open",
        "gio",
        "lynx",
        "w3m",
        "links",
        "yt-dlp",
        "docker",
        "gh",
    }
)
# Commands that look at a file's name or metadata, never its contents.
METADATA_ONLY = frozenset(
    {
        "ls",
        "stat",
        "file",
        "test",
        "[",
        "[[",
        "du",
        "touch",
        "mkdir",
        "realpath",
        "readlink",
        "basename",
        "dirname",
        "chmod",
        "chown",
        "chgrp",
        "exa",
        "tree",
    }
)
_SECRET_VAR_RE = re.compile(
    r"\$\{?\w*(SECRET|TOKEN|PASSWORD|PASSWD|API_?KEY|ACCESS_KEY|PRIVATE"
    r"|CREDENTIAL|AUTH)\w*\}?",
    re.I,
)
_SQL_DROP_RE = re.compile(
    r"\b(drop\s+(database|table|schema)|truncate\s+table)\b|"
    r"dropDatabase\(|\bflushall\b",
    re.I,
)
_REVERSE_CODE_RE = re.compile(
    r"socket.*(subprocess|pty\.spawn|dup2|/bin/(ba)?sh|exec)|"
    r"(fsockopen|TCPSocket|IO::Socket|net\.Socket|new\s+Socket).*(exec|sh|spawn|system|pipe)",
    re.I | re.S,
)
_SECURITY_SERVICES = re.compile(
    r"^(apparmor|auditd|firewalld|ufw|selinux|fail2ban|clamav\S*|falco|osqueryd|"
    r"crowdstrike|falcon-sensor|wazuh\S*|ossec|sysmon\S*|rsyslog|syslog|systemd-journald)"
    r"(\.service)?$"
)
# System services (daemons) whose processes an agent should not stop without a person:
# the machine's access, display, databases and web servers.
SYSTEM_SERVICES = frozenset(
    {
        "sshd", "systemd", "init", "dbus-daemon", "dockerd", "containerd", "kubelet", "Xorg",
        "Xvfb", "Xvnc", "gdm", "gdm3", "lightdm", "sddm", "NetworkManager", "wpa_supplicant",
        "polkitd", "systemd-logind", "systemd-udevd", "cron", "crond", "snapd", "nginx",
        "apache2", "httpd", "mysqld", "mariadbd", "postgres", "postmaster", "redis-server",
        "mongod", "memcached", "rabbitmq-server", "elasticsearch", "haproxy", "php-fpm",
        "sssd", "avahi-daemon", "cupsd", "chronyd", "ntpd", "named", "dnsmasq",
        "systemd-resolved", "systemd-networkd", "accounts-daemon", "udisksd", "bluetoothd",
        "ModemManager", "upowerd", "supervisord", "runc", "docker-proxy", "containerd-shim",
        "docker-containerd-shim",
    }
)  # fmt: skip
_SERVICE_WORD_RE = re.compile(
    r"(?<![\w.-])(" + "|".join(sorted(map(re.escape, SYSTEM_SERVICES))) + r")(?![\w-])"
)
_KILLERS = ("kill", "pkill", "killall", "skill")

INSTALL_RE = {
    "apt": r"install|reinstall",
    "apt-get": r"install|reinstall",
    "aptitude": "install",
    "yum": "install|localinstall",
    "dnf": "install",
    "zypper": "in|install",
    "pacman": r"-S\w*|-U",
    "apk": "add",
    "brew": "install|reinstall",
    "snap": "install",
    "flatpak": "install",
    "pip": "install",
    "pip3": "install",
    "pipx": "install|inject",
    "npm": "install|i|add|ci",
    "yarn": "add|install|global",
    "pnpm": "add|install|i",
    "gem": "install",
    "cargo": "install",
    "go": "install|get",
    "conda": "install|create",
    "mamba": "install",
    "uv": "add|pip",
    "poetry": "add|install",
    "dpkg": "-i|--install",
    "rpm": r"-i\w*|-U\w*|--install",
    "make": "install",
    "nix-env": r"-i\w*|--install",
    "composer": "require|install",
    "bun": "add|install|i",
}


def shell_findings(command_text: str, policy: Policy) -> list[Finding]:
    """Parse `command_text` and run every rule on it."""
    script = parse_script(command_text)
    return list(_script_findings(script, command_text, policy))


def _script_findings(script: Script, text: str, policy: Policy) -> Iterator[Finding]:
    if script.fork_bomb:
        yield Finding("shell.fork-bomb", "fork_bomb", "Defines a function that endlessly forks.")
    burners = _cpu_burners(script)
    if burners >= 2:
        yield Finding(
            "shell.cpu-burners",
            "resource_exhaustion",
            f"Starts {burners} endless output loops (`yes` and the like) that only burn CPU.",
        )
    if script.unreadable:
        yield Finding(
            "shell.unparsed",
            "unknown_command",
            "The gate cannot parse this command line, so a person should read it.",
        )
    if script.undecodable_payloads:
        yield Finding("shell.encoded-exec", "obfuscation", "Runs base64-decoded code in a shell.")
    if script.decoded_payloads:
        yield Finding(
            "shell.encoded-exec-decoded",
            "obfuscation",
            "Hides a command in base64 and pipes it into a shell.",
        )
    downloaded: set[str] = set()
    for pipeline in _all_pipelines(script):
        yield from _pipeline_findings(pipeline, policy)
    commands = list(script.commands())
    for command in commands:
        yield from _command_findings(command, policy, downloaded)
    yield from _service_stops(commands)


def _service_stops(commands: list[Command]) -> Iterator[Finding]:
    """Stopping a system service: `systemctl stop`/`service … stop` (security services are
    judged as evasion instead), or killing its processes, named directly (`pkill sshd`) or
    through pids looked up in the same script (`kill $(pgrep sshd)`, a loop over `ps`)."""
    for command in commands:
        name, args = command.name, command.args
        stops = (name == "systemctl" and args[:1] in (["stop"], ["kill"], ["mask"])) or (
            name == "service" and len(args) >= 2 and args[1] in ("stop", "kill")
        )
        targets = [a.removesuffix(".service") for a in _operands(args)]
        if stops and not any(_SECURITY_SERVICES.match(a) for a in args):
            named = [t for t in targets if t not in ("stop", "kill", "mask")]
            if named:
                yield Finding(
                    "shell.stop-service", "power", f"Stops the system service {named[0]}."
                )
    killers = [c for c in commands if c.name in _KILLERS]
    if not killers:
        return
    # Names a killer targets, or that another command of the script looks pids up by.
    words = " ".join(
        arg
        for c in commands
        for arg in (_operands(c.args) if c.name in _KILLERS else c.args)
        if c.name not in ("echo", "printf")
    )
    found = _SERVICE_WORD_RE.search(words)
    if found:
        yield Finding(
            "shell.kill-service", "power", f"Kills the processes of the system service {found[1]}."
        )


def _all_pipelines(script: Script) -> list[Pipeline]:
    out: list[Pipeline] = []
    stack = list(script.pipelines)
    while stack:
        pipeline = stack.pop(0)
        out.append(pipeline)
        for command in pipeline.commands:
            stack.extend(command.subs)
    return out


# -- pipelines ---------------------------------------------------------------------------


def _pipeline_findings(pipeline: Pipeline, policy: Policy) -> Iterator[Finding]:
    stages = pipeline.commands
    for index, stage in enumerate(stages):
        later = stages[index + 1 :]
        if stage.name in DOWNLOADERS and any(is_shell_runner(s) for s in later):
            yield Finding(
                "shell.download-exec",
                "remote_code",
                "Pipes a download straight into a shell or interpreter.",
            )
        if _reads_secret(stage) and any(_sends(s) for s in later):
            yield Finding(
                "shell.exfil-credentials",
                "exfiltration",
                "Sends the contents of a credential file over the network.",
            )
        if (
            any(is_account_file(a) for a in stage.args)
            and stage.name not in NET_SENDERS
            and any(_sends(s) for s in later)
        ):
            yield Finding(
                "shell.exfil-account-files",
                "exfiltration",
                "Sends the system's account list over the network.",
            )
        dumps_env = stage.name in ("env", "printenv", "set", "export") and not stage.args
        if dumps_env and any(_sends(s) for s in later):
            yield Finding(
                "shell.exfil-env",
                "exfiltration",
                "Sends the environment (which holds secrets) over the network.",
            )
        if stage.name in ("nc", "ncat", "netcat", "telnet", "openssl") and any(
            s.name in SHELLS for s in later
        ):
            yield Finding(
                "shell.reverse-shell", "reverse_shell", "Connects a network socket to a shell."
            )


# -- single commands ---------------------------------------------------------------------


def _command_findings(command: Command, policy: Policy, downloaded: set[str]) -> Iterator[Finding]:
    name = command.name
    computed = command.computed_name
    if computed:
        shown = computed if len(computed) <= 40 else computed[:37] + "..."
        yield Finding(
            "shell.computed-command",
            "unknown_command",
            f"Runs a program whose name is only known when it runs ({shown}).",
        )
    if command.computed_exec:
        yield Finding(
            "shell.computed-exec",
            "unknown_command",
            f"Runs {name} code that builds the command it runs when it runs.",
        )
    if "sudo" in command.wrappers or "doas" in command.wrappers or "pkexec" in command.wrappers:
        yield Finding("shell.sudo", "sudo", "Runs a command as root with sudo.")
    if name in ("sudo", "su", "doas", "pkexec", "runuser") and not command.wrappers:
        yield Finding("shell.sudo", "sudo", f"Switches user with {name}.")
    yield from _destruction(command)
    yield from _remote_code(command, downloaded)
    yield from _reverse_shell(command)
    yield from _exfiltration(command)
    yield from _evasion(command)
    yield from _privilege(command)
    yield from _writes(command)
    yield from _confirmations(command)
    yield from _network(command, policy)


def _recursive(args: list[str]) -> bool:
    return any(
        a in ("--recursive", "-R") or (re.fullmatch(r"-[a-zA-Z]+", a) and ("r" in a or "R" in a))
        for a in args
    )


def _operands(args: list[str]) -> list[str]:
    return [a for a in args if not a.startswith("-") or a == "-"]


def _destruction(command: Command) -> Iterator[Finding]:
    name, args = command.name, command.args
    operands = _operands(args)
    if name == "rm":
        critical = [a for a in operands if is_critical_dir(a)]
        if critical and (_recursive(args) or "--no-preserve-root" in args):
            yield Finding("shell.rm-root", "destruction", f"Recursively deletes {critical[0]}.")
        elif any(is_vital_system_file(a) for a in operands):
            vital = next(a for a in operands if is_vital_system_file(a))
            yield Finding(
                "shell.rm-system-file", "destruction", f"Deletes {vital}, which the system needs."
            )
        elif operands:
            unknown = [a for a in operands if a.startswith("$") or a == "$(…)"]
            if unknown and _recursive(args):
                yield Finding(
                    "shell.rm-unknown",
                    "deletion",
                    f"Recursively deletes a path from an unset variable ({unknown[0]}).",
                )
            yield Finding("shell.rm", "deletion", f"Deletes {_list(operands)}.")
    elif name in ("rmdir", "unlink", "srm"):
        yield Finding("shell.rm", "deletion", f"Deletes {_list(operands)}.")
    elif name == "shred" or name == "wipe":
        if any(is_block_device(a) for a in operands):
            yield Finding("shell.wipe-disk", "destruction", "Overwrites a whole disk.")
        else:
            yield Finding("shell.shred", "deletion", f"Irrecoverably erases {_list(operands)}.")
    elif name.startswith("mkfs") or name in FORMATTERS:
        listing = name in PARTITIONERS and any(a in ("-l", "--list", "print") for a in args)
        if not listing:
            yield Finding("shell.format-disk", "destruction", f"Formats or wipes a disk ({name}).")
    elif name == "dd":
        target = next((a[3:] for a in args if a.startswith("of=")), "")
        if is_block_device(target):
            yield Finding("shell.dd-disk", "destruction", f"Writes raw data onto {target}.")
    elif name == "find":
        roots = [a for a in args if not a.startswith("-")][:1]
        if "-delete" in args:
            if roots and is_critical_dir(roots[0]):
                yield Finding(
                    "shell.find-delete-root",
                    "destruction",
                    f"Deletes every matching file under {roots[0]}.",
                )
            else:
                yield Finding("shell.find-delete", "deletion", "Deletes the files find matches.")
    elif name in ("chmod", "chown", "chgrp") and _recursive(args):
        critical = [a for a in operands[1:] if is_critical_dir(a)]
        if critical:
            yield Finding(
                "shell.chmod-root",
                "destruction",
                f"Recursively changes ownership or permissions of {critical[0]}.",
            )
    elif name == "mv" and operands and any(is_critical_dir(a) for a in operands[:-1]):
        yield Finding("shell.mv-root", "destruction", "Moves a system or home folder away.")
    for op, target in command.redirects:
        if op in (">", ">>", ">|", "&>") and is_block_device(target):
            yield Finding("shell.dd-disk", "destruction", f"Writes raw data onto {target}.")
    if name in ("git",) and args[:1] == ["clean"] and any("f" in a for a in args if a[:1] == "-"):
        yield Finding("shell.git-clean", "deletion", "Deletes untracked files with git clean.")
    if name == "git" and args[:1] == ["reset"] and "--hard" in args:
        yield Finding("shell.git-reset-hard", "deletion", "Discards uncommitted changes.")
    if (
        name in ("reboot", "shutdown", "halt", "poweroff")
        or (name in ("init", "telinit") and args[:1] in (["0"], ["6"]))
        or (name == "systemctl" and args[:1] in (["reboot"], ["poweroff"], ["halt"]))
    ):
        yield Finding("shell.power", "power", "Shuts down or reboots the machine.")
    if name in ("kill", "pkill", "killall") and any(a in ("-1", "1") for a in operands + args[-1:]):
        yield Finding("shell.kill-all", "power", "Kills every process (or init).")


def _remote_code(command: Command, downloaded: set[str]) -> Iterator[Finding]:
    name, args = command.name, command.args
    if name in DOWNLOADERS:
        downloaded.update(_download_targets(command))
    runs_code = is_shell_runner(command) or name in ("xargs",)
    if runs_code and any(s.name in DOWNLOADERS for p in command.subs for s in p.commands):
        yield Finding("shell.download-exec", "remote_code", "Runs code fetched from the network.")
    if downloaded:
        program = command.argv[0] if command.argv else ""
        targets = [program] + (args[:1] if runs_code or name in ("chmod",) else [])
        if name == "chmod":
            targets = args[1:]
        for target in targets:
            base = target.rsplit("/", 1)[-1]
            if (
                base
                and base in downloaded
                and (
                    name != "chmod"
                    or "+x" in " ".join(args)
                    or re.search(r"\b[0-7]*[1357][0-7]{0,2}\b", args[0] if args else "")
                )
            ):
                yield Finding(
                    "shell.download-then-exec",
                    "remote_code",
                    f"Runs {base}, which was just downloaded.",
                )
                break


def _download_targets(command: Command) -> set[str]:
    args = command.args
    out: set[str] = set()
    for flag in ("-o", "-O", "--output", "--output-document"):
        if flag in args:
            index = args.index(flag)
            if index + 1 < len(args) and not args[index + 1].startswith("-"):
                out.add(args[index + 1].rsplit("/", 1)[-1])
    for arg in args:
        if arg.startswith(("--output-document=", "--output=")):
            out.add(arg.split("=", 1)[1].rsplit("/", 1)[-1])
    urls = [a for a in args if "://" in a]
    remote_name = any(re.fullmatch(r"-[a-zA-Z]*O", a) or a == "--remote-name" for a in args)
    if urls and (command.name == "wget" or remote_name):
        out.update(u.rstrip("/").rsplit("/", 1)[-1].split("?")[0] for u in urls)
    out.discard("-")
    out.discard("")
    return out


def _reverse_shell(command: Command) -> Iterator[Finding]:
    name, args = command.name, command.args
    words = command.argv + [t for _op, t in command.redirects]
    if any(re.search(r"/dev/(tcp|udp)/", w) for w in words):
        yield Finding(
            "shell.dev-tcp", "reverse_shell", "Opens a raw network connection through /dev/tcp."
        )
    if name in ("nc", "ncat", "netcat") and any(
        a in ("-e", "-c", "--exec", "--sh-exec", "--lua-exec") or re.fullmatch(r"-\w*e", a)
        for a in args
    ):
        yield Finding("shell.nc-exec", "reverse_shell", "Attaches a shell to a netcat socket.")
    if name == "socat" and any(re.search(r"(exec|system):", a, re.I) for a in args):
        yield Finding("shell.socat-exec", "reverse_shell", "Attaches a program to a socket.")
    if INTERPRETER_RE.match(name):
        code = " ".join(args)
        if _REVERSE_CODE_RE.search(code):
            yield Finding(
                "shell.interpreter-reverse-shell",
                "reverse_shell",
                "Runs code that connects a socket to a shell.",
            )


def _reads_secret(command: Command) -> bool:
    if any(is_credential_path(a) for a in command.args) or any(
        op in ("<", "<<") and is_credential_path(t) for op, t in command.redirects
    ):
        return True
    return any(_SECRET_VAR_RE.search(a) for a in command.args) and command.name in (
        "echo",
        "printf",
        "cat",
    )


def _sends(command: Command) -> bool:
    if command.name in NET_SENDERS:
        return True
    return any(re.search(r"/dev/(tcp|udp)/", t) for _op, t in command.redirects)


def _exfiltration(command: Command) -> Iterator[Finding]:
    args = command.args
    if not _sends(command):
        return
    system = [f for f in uploaded_files(command) if canonical(f).startswith(_SYSTEM_DATA)]
    if system:
        yield Finding(
            "shell.upload-system-file", "upload", f"Uploads {canonical(system[0])} to a server."
        )
    account_files = [a for a in args if is_account_file(a.split("=", 1)[-1])]
    if account_files and not secret_files_only_local(command):
        yield Finding(
            "shell.exfil-account-files",
            "exfiltration",
            f"Sends {account_files[0].lstrip('@<')} (account details) over the network.",
        )
    secret_files = [
        a for a in args if is_credential_path(a.lstrip("@<").split("=", 1)[-1].lstrip("@<"))
    ]
    if secret_files:
        yield Finding(
            "shell.exfil-credentials", "exfiltration", f"Sends {secret_files[0]} over the network."
        )
    if any(_SECRET_VAR_RE.search(a) for a in args):
        yield Finding(
            "shell.exfil-env",
            "exfiltration",
            "Sends a secret from the environment over the network.",
        )
    sub_reads = [s for p in command.subs for s in p.commands if _reads_secret(s)]
    if sub_reads or any(op in ("<",) and is_credential_path(t) for op, t in command.redirects):
        yield Finding(
            "shell.exfil-credentials",
            "exfiltration",
            "Sends the contents of a credential file over the network.",
        )


def uploaded_files(command: Command) -> list[str]:
    """Local files a network command sends: curl -d @f / -F x=@f / -T f, wget
    --post-file, scp/rsync sources to a remote, `< f` into a socket."""
    args = command.args
    out = [t for op, t in command.redirects if op == "<"]
    for index, arg in enumerate(args):
        value = args[index + 1] if index + 1 < len(args) else ""
        if arg in ("-T", "--upload-file"):
            out.append(value)
        elif (
            arg
            in ("-d", "--data", "--data-binary", "--data-raw", "--data-urlencode", "-F", "--form")
            and "@" in value
        ):
            out.append(value.split("@", 1)[1].split(";", 1)[0])
        elif arg.startswith(("--post-file=", "--body-file=")):
            out.append(arg.split("=", 1)[1])
    if command.name in ("scp", "rsync", "sftp"):
        operands = _operands(args)
        if len(operands) >= 2 and ":" in operands[-1]:
            out.extend(o for o in operands[:-1] if ":" not in o)
    return [f for f in out if f and f != "-"]


def secret_files_only_local(command: Command) -> bool:
    """scp/rsync/cp-like commands copying to a local path send nothing."""
    if command.name in ("scp", "rsync"):
        operands = _operands(command.args)
        return bool(operands) and ":" not in operands[-1]
    return False


def _evasion(command: Command) -> Iterator[Finding]:
    name, args = command.name, command.args
    if name == "setenforce" and args[:1] == ["0"]:
        yield Finding("shell.selinux-off", "defense_evasion", "Turns SELinux enforcement off.")
    if (
        name in ("systemctl", "service")
        and any(a in ("stop", "disable", "mask", "kill") for a in args)
        and any(_SECURITY_SERVICES.match(a) for a in args)
    ):
        yield Finding(
            "shell.security-off",
            "defense_evasion",
            "Stops or disables a security or logging service.",
        )
    if (name == "ufw" and "disable" in args) or (
        name == "iptables" and ("-F" in args or "--flush" in args)
    ):
        yield Finding("shell.firewall-off", "defense_evasion", "Turns the firewall off.")
    if name == "auditctl" and ("-D" in args or args[:2] == ["-e", "0"]):
        yield Finding("shell.audit-off", "defense_evasion", "Disables audit rules.")
    if (name == "history" and "-c" in args) or (
        name == "unset" and any(a.startswith("HIST") for a in args)
    ):
        yield Finding("shell.history-wipe", "defense_evasion", "Erases the shell history.")
    if name in ("export", "declare") and any(
        re.match(r"HIST(FILE=/dev/null|SIZE=0|FILESIZE=0)", a) for a in args
    ):
        yield Finding("shell.history-wipe", "defense_evasion", "Turns shell history off.")
    if name == "journalctl" and any(a.startswith(("--vacuum", "--rotate")) for a in args):
        yield Finding("shell.log-wipe", "defense_evasion", "Deletes the system journal.")
    logs = [a for a in _operands(args) if is_log_path(a)]
    if logs and name in ("rm", "shred", "truncate", "unlink", "wipe", "ln"):
        yield Finding("shell.log-wipe", "defense_evasion", f"Erases logs ({logs[0]}).")
    for op, target in command.redirects:
        if op in (">", ">|") and is_log_path(target):
            yield Finding("shell.log-wipe", "defense_evasion", f"Empties {target}.")


def _privilege(command: Command) -> Iterator[Finding]:
    name, args = command.name, command.args
    if name == "chmod":
        modes = [a for a in args if not a.startswith("-") or re.fullmatch(r"-?[ugoa]*[+=]\w*", a)]
        mode = modes[0] if modes else ""
        if re.search(r"[+=][rwxt]*s", mode) or re.fullmatch(r"[2467][0-7]{3}", mode):
            yield Finding(
                "shell.setuid",
                "privilege_escalation",
                "Makes a program run as its owner (setuid/setgid).",
            )
    if name in ("useradd", "adduser", "usermod") and (
        (any(a in ("-o",) for a in args) and "0" in args)
        or (
            re.search(r"\b(sudo|wheel|root|admin)\b", " ".join(args))
            and any(a in ("-G", "-aG", "-g", "-a") or a.startswith("-aG") for a in args)
        )
    ):
        yield Finding(
            "shell.add-admin", "privilege_escalation", "Gives an account root or sudo rights."
        )
    if name == "visudo":
        yield Finding("shell.sudoers", "privilege_escalation", "Edits the sudoers file.")


def _written_paths(command: Command) -> list[str]:
    """Files the command writes: redirects, tee, cp/mv/install/ln targets, sed -i."""
    name, args = command.name, command.args
    out = [t for op, t in command.redirects if op in (">", ">>", ">|", "&>", ">&")]
    operands = _operands(args)
    if name == "tee":
        out.extend(operands)
    elif name in ("cp", "mv", "install", "ln", "rsync") and len(operands) >= 2:
        out.append(operands[-1])
    elif name == "sed" and any(a.startswith("-i") or a == "--in-place" for a in args):
        out.extend(operands[1:])
    elif name in ("truncate", "touch", "dd"):
        out.extend(a[3:] if a.startswith("of=") else a for a in operands)
    return [t for t in out if not t.startswith("&")]


def _writes(command: Command) -> Iterator[Finding]:
    for path in _written_paths(command):
        if is_privilege_path(path):
            yield Finding(
                "shell.write-account-db",
                "privilege_escalation",
                f"Writes to {canonical(path)}, which grants privileges.",
            )
        elif is_persistence_path(path):
            yield Finding(
                "shell.persistence-file",
                "persistence",
                f"Changes {canonical(path)}, which runs code later.",
            )
        elif is_system_config_path(path):
            yield Finding("shell.system-config", "system_config", f"Writes to {canonical(path)}.")


def _confirmations(command: Command) -> Iterator[Finding]:
    name, args = command.name, command.args
    reads = [a for a in args if is_credential_path(a) and name not in METADATA_ONLY] + [
        t for op, t in command.redirects if op == "<" and is_credential_path(t)
    ]
    if reads and not _sends(command):
        yield Finding(
            "shell.read-credentials",
            "credential_read",
            f"Reads credentials in {canonical(reads[0])}.",
        )
    pattern = INSTALL_RE.get(name)
    if name.startswith("pip") and name not in INSTALL_RE:
        pattern = "install"
    if INTERPRETER_RE.match(name) and args[:2] == ["-m", "pip"]:
        args, pattern = args[2:], "install"
    sub = next((a for a in args if not a.startswith("-") or name in ("pacman", "dpkg", "rpm")), "")
    if pattern and sub and re.fullmatch(pattern, sub) and "--dry-run" not in args:
        yield Finding("shell.install", "install_software", f"Installs software with {name}.")
    if name in ACCOUNT_TOOLS and not any(a in ("-h", "--help") for a in args):
        yield Finding("shell.accounts", "persistence", f"Changes user accounts ({name}).")
    if (
        name == "date"
        and any(
            a == "-s" or a.startswith("--set") or re.fullmatch(r"\d{8,12}(\.\d\d)?", a)
            for a in args
        )
    ) or (name == "timedatectl" and args[:1] in (["set-time"], ["set-ntp"])):
        yield Finding("shell.set-clock", "system_config", "Changes the system clock.")
    if name == "systemd-run" and any(
        a.startswith(("--on-calendar", "--on-boot", "--on-active", "--on-startup")) for a in args
    ):
        yield Finding("shell.systemd-timer", "persistence", "Schedules a command with a timer.")
    if name == "crontab" and not any(a in ("-l",) for a in args):
        yield Finding("shell.crontab", "persistence", "Changes the scheduled jobs (crontab).")
    if name == "at" or name == "batch":
        yield Finding("shell.at", "persistence", "Schedules a command to run later.")
    if name == "systemctl" and any(a in ("enable", "link", "edit", "set-default") for a in args):
        yield Finding("shell.systemd-enable", "persistence", "Makes a service start on boot.")
    if name == "git" and args[:1] == ["push"]:
        if any(
            a in ("-f", "--force", "--force-with-lease", "--mirror", "--delete", "-d")
            or a.startswith(("+", "--force", ":"))
            for a in args[1:]
        ):
            yield Finding(
                "shell.force-push", "deletion", "Force-pushes, which can erase others' commits."
            )
        else:
            yield Finding("shell.git-push", "messaging", "Publishes commits to a remote.")
    if (
        (
            name == "gh"
            and len(args) >= 2
            and args[1] in ("create", "comment", "merge", "close", "delete", "review", "edit")
        )
        or (name in ("npm", "yarn", "pnpm", "cargo", "gem", "poetry") and args[:1] == ["publish"])
        or (name == "twine" and args[:1] == ["upload"])
        or (name == "docker" and args[:1] == ["push"])
    ):
        yield Finding("shell.publish", "messaging", "Posts or publishes on the user's behalf.")
    if name in ("mail", "mailx", "sendmail", "mutt", "msmtp", "swaks"):
        yield Finding("shell.send-mail", "messaging", "Sends an e-mail.")
    if name in ("dropdb",) or (
        name
        in (
            "psql",
            "mysql",
            "sqlite3",
            "mariadb",
            "mongo",
            "mongosh",
            "redis-cli",
            "clickhouse-client",
            "cqlsh",
        )
        and _SQL_DROP_RE.search(" ".join(args) + " " + (command.stdin_text or ""))
    ):
        yield Finding("shell.drop-database", "deletion", "Drops a database or table.")


def _network(command: Command, policy: Policy) -> Iterator[Finding]:
    name, args = command.name, command.args
    if name not in NETWORK_PROGRAMS:
        return  # a URL that is only printed or written to a file goes nowhere
    hosts: list[str] = []
    for arg in args:
        hosts.extend(hosts_in_text(arg))
    if name in NET_HOST_ARG or name in DOWNLOADERS or name == "git":
        for arg in _operands(args):
            host = host_of_remote(arg)
            if host is None and name in NET_HOST_ARG and name not in ("scp", "rsync"):
                host = host_of_plain(arg)
            if host is None and name in DOWNLOADERS and "://" not in arg:
                host = host_of_plain(arg)
            if host:
                hosts.append(host)
    outside = sorted(
        {h for h in hosts if not is_allowed(h, policy.allowed_domains, policy.allow_loopback)}
    )
    if outside:
        yield Finding(
            "network.domain-not-allowed",
            "network",
            f"Reaches {', '.join(outside[:3])}, outside the allow-list.",
        )


def _list(items: list[str], limit: int = 3) -> str:
    shown = ", ".join(items[:limit])
    more = len(items) - limit
    return shown + (f" and {more} more" if more > 0 else "") if items else "files"


# Programs that write forever until killed; into /dev/null (or nowhere that reads them)
# they do nothing but use a CPU each.
_ENDLESS = {"yes"}
_ENDLESS_SOURCES = {"/dev/zero", "/dev/urandom", "/dev/random"}


def _cpu_burners(script: Script) -> int:
    """How many commands only burn CPU: an endless writer whose output is thrown away."""
    count = 0
    for pipeline in script.pipelines:
        if len(pipeline.commands) != 1:
            continue  # a reader downstream may stop it (`yes | head`)
        command = pipeline.commands[0]
        if not command.argv:
            continue
        endless = command.argv[0] in _ENDLESS or (
            command.argv[0] == "cat" and _ENDLESS_SOURCES & set(command.argv[1:])
        )
        discarded = any(target == "/dev/null" for _, target in command.redirects)
        count += bool(endless and discarded)
    return count
