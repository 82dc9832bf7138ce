#!/usr/bin/env bash
# Builds kube-apiserver once, for the tests' real API server, from Debian bullseye's
# `kubernetes` source package (1.20), into $CACHE/bin/kube-apiserver. Reuses the binary
# when present, so running it again costs nothing.
#
# Why from source: Debian ships no kube-apiserver binary package any more, and nothing is
# downloaded outside the distribution's own archive.
set -euo pipefail

CACHE="${DESKPILOT_KUBE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/deskpilot/kube}"
BIN="$CACHE/bin/kube-apiserver"
SRC_DIR="$CACHE/src"
VERSION="1.20.5+really1.20.2"
ORIG="$SRC_DIR/kubernetes_${VERSION}.orig.tar.gz"
BUILD="$CACHE/build"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo

if [ -x "$BIN" ] && "$BIN" --version >/dev/null 2>&1; then
    echo "kube-apiserver: cached ($("$BIN" --version))"
    exit 0
fi

# Go, and the two libraries whose vendored copies crash 1.20 on Go >= 1.18 (reflect2's
# unsafe map access breaks on the first custom resource): Debian's newer sources replace them.
PKGS="golang-go golang-github-modern-go-reflect2-dev golang-github-json-iterator-go-dev golang-github-modern-go-concurrent-dev rsync"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
fi

mkdir -p "$SRC_DIR" "$CACHE/bin"
if [ ! -f "$ORIG" ]; then
    # Only the source archive of bullseye is needed: add it in a sources file of its own.
    list=/etc/apt/sources.list.d/deskpilot-bullseye-src.sources
    if [ ! -f "$list" ]; then
        printf '%s\n' 'Types: deb-src' 'URIs: http://deb.debian.org/debian' 'Suites: bullseye' \
            'Components: main' 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' \
            | $SUDO tee "$list" >/dev/null
    fi
    $SUDO apt-get update -qq
    # --tar-only: the build needs only the upstream tarball, and mirrors may carry it
    # without the .dsc and Debian patches (a whole `apt-get source` then fails on those).
    # apt checks the tarball against the archive's signed Sources index either way.
    (cd "$SRC_DIR" && apt-get source --download-only --tar-only "kubernetes=$VERSION-1")
    [ -f "$ORIG" ] || { echo "no $ORIG after apt-get source" >&2; exit 1; }
fi

rm -rf "$BUILD"
mkdir -p "$BUILD"
tar -xzf "$ORIG" -C "$BUILD"
tree="$BUILD/kubernetes-1.20.2"

for lib in github.com/modern-go/reflect2 github.com/json-iterator/go github.com/modern-go/concurrent; do
    rm -rf "$tree/vendor/$lib"
    cp -r "/usr/share/gocode/src/$lib" "$tree/vendor/$lib"
done

# GOPATH mode, as the 1.20 tree's build scripts expect; GOFLAGS from the environment would
# fight them.
(cd "$tree" && env -u GOFLAGS GO111MODULE=off GOCACHE="$CACHE/gocache" \
    make WHAT=cmd/kube-apiserver)
install -m 0755 "$tree/_output/bin/kube-apiserver" "$BIN.tmp"
mv "$BIN.tmp" "$BIN"
rm -rf "$BUILD"
echo "kube-apiserver: built ($("$BIN" --version))"
