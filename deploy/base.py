"""Make one base image (a Debian bookworm root filesystem) from Debian packages, once.

A build step in podman has no network here and no registry holds a Debian image, so the
Debian packages an image needs are installed when its base is made, on the host, with
mmdebstrap from the machine's own Debian sources. Each kind of base is one package list
(deploy/base/<kind>.packages). The root filesystem is cached as a tar under
$XDG_CACHE_HOME/deskpilot/images and imported as localhost/deskpilot/base-<kind>:<hash>,
where the hash covers the package list and how it is made: a changed list makes a new
base, an unchanged one is reused.

    python3 deploy/base.py desktop        # prints the image reference
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
from pathlib import Path

from podman import image_exists, podman

HERE = Path(__file__).resolve().parent
SUITE = "bookworm"
# Debian's archive as this machine's apt uses it (the apt registry).
SOURCES = Path("/etc/apt/sources.list.d/debian.sources")
# `essential` is Debian's smallest installable system (no apt: images never install
# anything); `extract` only unpacks packages, for an image without even a shell.
VARIANTS = {"nats": "extract"}
# Left out of every image: documentation (except each package's copyright), manuals,
# translations.
DPKG_OPTIONS = (
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/locale/*",
    "path-exclude=/usr/share/lintian/*",
)
# Bookworm's init-system-helpers needs usrmerge (through usr-is-merged), whose install
# script needs all of perl (~70 MB); the root is merged already, so once installed it is
# removed again with the perl it pulled, where nothing else needs that perl (dpkg checks).
PURGE_USRMERGE = (
    'chroot "$1" dpkg --purge --force-depends usrmerge'
    ' && { chroot "$1" dpkg --purge libfile-find-rule-perl libnumber-compare-perl'
    " libtext-glob-perl perl libperl5.36 perl-modules-5.36 || true; }"
)
# Run in the finished tree ($1): what is only the build's, and Python's byte-code caches
# (a read-only root cannot keep them fresh anyway).
CLEANUP = (
    'rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/* "$1"/var/log/*'
    ' && find "$1"/usr -depth -name __pycache__ -type d -exec rm -rf {} +'
)


def cache_dir() -> Path:
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "deskpilot" / "images"


def packages(kind: str) -> list[str]:
    path = HERE / "base" / f"{kind}.packages"
    if not path.is_file():
        kinds = sorted(p.stem for p in (HERE / "base").glob("*.packages"))
        raise SystemExit(f"base.py: no base kind {kind!r} (known: {', '.join(kinds)})")
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def mmdebstrap_command(kind: str, target: Path) -> list[str]:
    variant = VARIANTS.get(kind, "essential")
    command = ["mmdebstrap", f"--variant={variant}", "--include=" + ",".join(packages(kind))]
    command += [f"--dpkgopt={option}" for option in DPKG_OPTIONS]
    hook = HERE / "base" / f"{kind}.hook"
    if hook.is_file():  # what this kind needs beyond its packages
        command.append(f'--customize-hook=sh {hook} "$1"')
    if variant == "essential":
        command.append(f"--customize-hook={PURGE_USRMERGE}")
    command += [f"--customize-hook={CLEANUP}", SUITE, str(target), str(SOURCES)]
    return command


def reference(kind: str) -> str:
    """The base's image reference: its name and a hash of how it is made."""
    # Where the checkout lies is not part of it.
    command = repr(mmdebstrap_command(kind, Path("-"))).replace(str(HERE), "deploy")
    digest = hashlib.sha256(command.encode())
    digest.update(SOURCES.read_bytes() if SOURCES.is_file() else b"")
    hook = HERE / "base" / f"{kind}.hook"
    digest.update(hook.read_bytes() if hook.is_file() else b"")
    return f"localhost/deskpilot/base-{kind}:{digest.hexdigest()[:12]}"


def ensure(kind: str) -> str:
    """The base image of this kind, made (or imported from the cached tar) when missing."""
    image = reference(kind)
    if image_exists(image):
        return image
    tag = image.rsplit(":", 1)[1]
    tar = cache_dir() / f"base-{kind}-{tag}.tar"
    if not tar.is_file():
        tar.parent.mkdir(parents=True, exist_ok=True)
        partial = tar.with_suffix(".partial.tar")
        print(f"base.py: making base-{kind} with mmdebstrap", file=sys.stderr, flush=True)
        subprocess.run(mmdebstrap_command(kind, partial), check=True)
        partial.rename(tar)
        for old in tar.parent.glob(f"base-{kind}-*.tar"):
            if old != tar and not old.name.endswith(".partial.tar"):
                old.unlink()  # an older list's base: replaced
    podman(
        "import", "--quiet", "--message", f"deskpilot base-{kind}", str(tar), image, capture=True
    )
    return image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kind", help="a package list in deploy/base (python, ocr, desktop, nats)")
    print(ensure(parser.parse_args().kind))


if __name__ == "__main__":
    main()
