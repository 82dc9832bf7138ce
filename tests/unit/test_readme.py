"""The README documents every setting of every installed component, and its commands exist."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from deskpilot.cli import settings_doc

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_settings_table_is_current() -> None:
    assert settings_doc.readme_with_table(README) == README, (
        "README settings table is stale: run `make docs`"
    )


def test_every_settings_class_is_documented() -> None:
    classes = settings_doc.settings_classes()
    assert any(cls.service_name == "up" for cls in classes)
    for cls in classes:
        for name in cls.model_fields:
            assert f"`{cls.env_prefix()}{name.upper()}" in README, f"{cls.__name__}.{name}"


def test_make_targets_named_in_the_readme_exist() -> None:
    targets = set(re.findall(r"^([a-z][a-z0-9-]*):", (ROOT / "Makefile").read_text(), re.M))
    named = set(re.findall(r"`make ([a-z][a-z0-9-]*)`", README)) | set(
        re.findall(r"^make ([a-z][a-z0-9-]*)", README, re.M)
    )
    assert named, "the README names no make targets"
    assert named <= targets, f"README names missing targets: {named - targets}"


def test_ci_runs_make_test() -> None:
    script = (ROOT / ".ci" / "run").read_text()
    assert "make test" in script
    result = subprocess.run(["bash", "-n", str(ROOT / ".ci" / "run")], capture_output=True)
    assert result.returncode == 0
