"""Build the workspace's Python packages and their dependencies as wheels on the host,
and pick the ones one image needs, so the image build installs them with no network.

Wheels are built by a virtualenv of Debian's own Python (/usr/bin/python3, the Python
every image carries) into $XDG_CACHE_HOME/deskpilot/images/wheels. Dependencies already
there are reused offline; only a dependency not yet there is fetched from PyPI.

    python3 deploy/wheels.py services/common services/shell --stage /tmp/ctx/wheels
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

from base import cache_dir

ROOT = Path(__file__).resolve().parent.parent
IMAGE_PYTHON = "/usr/bin/python3"
PIP_QUIET = ("--quiet", "--disable-pip-version-check", "--no-input")


def wheel_dir() -> Path:
    return cache_dir() / "wheels"


def builder() -> Path:
    """The wheel builder's pip: a virtualenv of the images' Python with the build backend."""
    venv = cache_dir() / "wheel-builder"
    pip = venv / "bin" / "pip"
    if not (venv / "bin" / "hatchling").exists():
        subprocess.run([IMAGE_PYTHON, "-m", "venv", str(venv)], check=True)
        # Without build isolation a build needs no index: hatchling is installed once.
        subprocess.run([str(pip), "install", *PIP_QUIET, "hatchling"], check=True)
    return pip


def _project(project: str) -> dict:
    with open(ROOT / project / "pyproject.toml", "rb") as file:
        return tomllib.load(file)["project"]


def project_name(project: str) -> str:
    return _project(project)["name"]


def project_version(project: str) -> str:
    return _project(project)["version"]


def _pip_offline_first(pip: Path, *args: str) -> None:
    """`pip ARGS` from the cached wheels alone, else with PyPI for what is missing."""
    offline = [str(pip), *args, *PIP_QUIET, "--find-links", str(wheel_dir())]
    if subprocess.run([*offline, "--no-index"], capture_output=True).returncode != 0:
        subprocess.run(offline, check=True)


def build(projects: list[str]) -> None:
    """Wheels of these workspace packages (always rebuilt) and of all their dependencies."""
    pip = builder()
    wheel_dir().mkdir(parents=True, exist_ok=True)
    # pip itself, to install with inside the build (the images carry no pip of their own).
    if not list(wheel_dir().glob("pip-*.whl")):
        dest = str(wheel_dir())
        _pip_offline_first(pip, "download", "--only-binary=:all:", "--dest", dest, "pip")
    sources = [str(ROOT / project) for project in projects]
    _pip_offline_first(
        pip, "wheel", "--no-build-isolation", "--wheel-dir", str(wheel_dir()), *sources
    )


def resolve(projects: list[str]) -> list[Path]:
    """The wheels an install of these packages takes from the cache (and pip's own)."""
    names = [project_name(project) for project in projects]
    report = subprocess.run(
        [
            str(builder()),
            "install",
            *PIP_QUIET,
            "--dry-run",
            "--ignore-installed",
            "--no-index",
            "--find-links",
            str(wheel_dir()),
            "--report",
            "-",
            *names,
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    urls = [item["download_info"]["url"] for item in json.loads(report.stdout)["install"]]
    wheels = [Path(url.removeprefix("file://")) for url in urls]
    return sorted(wheels) + sorted(wheel_dir().glob("pip-*.whl"))[-1:]


def stage(projects: list[str], dest: Path) -> list[Path]:
    """Build, then link the wheels these packages need into `dest` (a build context)."""
    dest.mkdir(parents=True, exist_ok=True)
    if not projects:
        return []
    build(projects)
    staged = []
    for wheel in resolve(projects):
        target = dest / wheel.name
        try:
            os.link(wheel, target)
        except OSError:  # another filesystem: copy instead
            target.write_bytes(wheel.read_bytes())
        staged.append(target)
    return staged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("projects", nargs="+", help="workspace folders, e.g. services/common")
    parser.add_argument("--stage", type=Path, help="link the needed wheels into this folder")
    args = parser.parse_args()
    if args.stage:
        for wheel in stage(args.projects, args.stage):
            print(wheel.name)
    else:
        build(args.projects)
        print(wheel_dir(), file=sys.stderr)


if __name__ == "__main__":
    main()
