"""What the README tells a new user exists: `make demo` runs the keyless stand-in stack,
a minimal Debian is told what to install first, and every service folder it lists is
either there or marked as planned."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_make_demo_runs_the_stand_in_stack_with_the_flags_given() -> None:
    result = subprocess.run(
        ["make", "--no-print-directory", "-n", "demo", "ARGS=--stand-in-port 9999"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert result.stdout.strip().splitlines()[-1] == (
        ".venv/bin/deskpilot up --stand-in --stand-in-port 9999"
    )
    assert "make demo" in README


def test_a_minimal_debian_is_told_to_install_make_and_git_first() -> None:
    assert "debian:bookworm" in README
    assert "apt-get update && apt-get install -y make git" in README


def test_every_service_folder_listed_exists_or_is_marked_planned() -> None:
    rows = re.findall(r"^\| `(services/[a-z]+)/` \| (.*) \|$", README, re.M)
    assert len(rows) >= 6, rows
    for folder, what in rows:
        assert (ROOT / folder).is_dir() or what.startswith("planned"), (folder, what)


def test_the_first_session_section_shows_every_session_command() -> None:
    section = README.split("## First session", 1)[1].split("\n## ", 1)[0]
    for command in ("run", "watch", "send", "approve", "deny", "take", "handback", "chat",
                    "cancel", "delete"):  # fmt: skip
        assert f"deskpilot {command} " in section, command
