"""Build deskpilot's container images with podman, each only when its inputs changed.

Each image is deploy/<name>/Containerfile on a base made from Debian packages
(deploy/base.py) with the wheels of its workspace packages (deploy/wheels.py) in its
build context. The build has no network. The hash of every input (the Containerfile,
the base, each wheel's file list with its hashes) is the image's `io.deskpilot.inputs`
label: an image whose label matches is already up to date and is not built again.

    python3 deploy/build.py               # every image, tagged deskpilot/<name>:dev
    python3 deploy/build.py sandbox       # one
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import base
import wheels
from podman import image_label, podman

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TAG = "dev"
INPUTS_LABEL = "io.deskpilot.inputs"
# The project declares no licence of its own yet; SPDX's word for "not stated".
LICENSES = "NOASSERTION"


@dataclass(frozen=True)
class Image:
    base: str  # a package list in deploy/base
    projects: tuple[str, ...] = ()  # workspace packages installed into /opt/deskpilot
    title: str = ""
    # The folder of its Containerfile: its own, or the one every Python service shares.
    containerfile: str = ""
    module: str = ""  # for a service: what `python -m` runs
    # A file the build needs that `make` makes (git-ignored), and the target that does.
    needs: tuple[str, str] | None = None


IMAGES = {
    "nats": Image("nats", title="deskpilot NATS server (JetStream)"),
    "sandbox": Image(
        "desktop",
        ("services/common", "services/display", "services/shell", "sandbox"),
        "deskpilot sandbox desktop with the display and shell executors",
    ),
    "orchestrator": Image(
        "python",
        ("services/common", "services/bus", "services/orchestrator"),
        "deskpilot orchestrator",
        containerfile="service",
        module="deskpilot.orchestrator",
    ),
    "safety": Image(
        "ocr",
        ("services/common", "services/safety"),
        "deskpilot safety gate",
        containerfile="service",
        module="deskpilot.safety",
    ),
    "gateway": Image(
        "python",
        ("services/common", "services/bus", "services/gateway"),
        "deskpilot gateway",
        containerfile="service",
        module="deskpilot.gateway",
        needs=("services/gateway/deskpilot/gateway/web/vendor/novnc/core/rfb.js", "make web-deps"),
    ),
}


def reference(name: str) -> str:
    return f"localhost/deskpilot/{name}:{TAG}"


def _git(*args: str) -> str:
    result = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else ""


def _wheel_digest(wheel: Path) -> bytes:
    """A wheel's RECORD (each file with its hash): its content without zip timestamps."""
    with zipfile.ZipFile(wheel) as archive:
        record = next(n for n in archive.namelist() if n.endswith(".dist-info/RECORD"))
        return wheel.name.encode() + b"\0" + archive.read(record)


def inputs_hash(containerfile: Path, build_args: dict[str, str], staged: list[Path]) -> str:
    digest = hashlib.sha256(containerfile.read_bytes())
    digest.update(repr(sorted(build_args.items())).encode())
    for wheel in sorted(staged):
        digest.update(_wheel_digest(wheel))
    return digest.hexdigest()


def labels(name: str, image: Image, inputs: str) -> dict[str, str]:
    revision = _git("rev-parse", "HEAD")
    if revision and _git("status", "--porcelain"):
        revision += "-dirty"
    version = "0.1.0"
    if image.projects:
        version = wheels.project_version(image.projects[-1])
    return {
        "org.opencontainers.image.title": image.title,
        "org.opencontainers.image.source": _git("remote", "get-url", "origin") or "NOASSERTION",
        "org.opencontainers.image.licenses": LICENSES,
        "org.opencontainers.image.version": version,
        "org.opencontainers.image.revision": revision or "unknown",
        INPUTS_LABEL: inputs,
    }


def build(name: str, force: bool = False) -> bool:
    """Build one image unless it is up to date; True when it was built."""
    image = IMAGES[name]
    if image.needs and not (ROOT / image.needs[0]).is_file():
        raise SystemExit(f"build.py: {name} needs {image.needs[0]}: run `{image.needs[1]}` first")
    containerfile = HERE / (image.containerfile or name) / "Containerfile"
    base_image = base.ensure(image.base)
    with tempfile.TemporaryDirectory(prefix=f"deskpilot-{name}-") as context:
        staged = wheels.stage(list(image.projects), Path(context) / "wheels")
        build_args = {"BASE": base_image}
        if image.module:
            build_args["MODULE"] = image.module
            build_args["PACKAGES"] = " ".join(wheels.project_name(p) for p in image.projects)
        inputs = inputs_hash(containerfile, build_args, staged)
        if not force and image_label(reference(name), INPUTS_LABEL) == inputs:
            print(f"build.py: {reference(name)} is up to date", file=sys.stderr)
            return False
        command = ["build", "--pull=never", "--network=none", "--file", str(containerfile)]
        for key, value in build_args.items():
            command += ["--build-arg", f"{key}={value}"]
        command += ["--tag", reference(name)]
        for key, value in labels(name, image, inputs).items():
            command += ["--label", f"{key}={value}"]
        started = time.monotonic()
        podman(*command, context)
    seconds = time.monotonic() - started
    print(f"build.py: built {reference(name)} in {seconds:.1f} s", file=sys.stderr)
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help=f"{', '.join(IMAGES)}; default: all of them"
    )
    parser.add_argument("--force", action="store_true", help="build even when up to date")
    args = parser.parse_args()
    unknown = [name for name in args.names if name not in IMAGES]
    if unknown:
        parser.error(f"no image {', '.join(unknown)} (known: {', '.join(IMAGES)})")
    for name in args.names or IMAGES:
        try:
            build(name, force=args.force)
        except subprocess.CalledProcessError as error:
            sys.exit(f"build.py: {name}: {error.cmd[0]} failed (exit {error.returncode})")


if __name__ == "__main__":
    main()
