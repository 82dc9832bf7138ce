"""Test fixtures start real dependencies (nats-server, X displays, VNC servers, gRPC
servers) on free ports in temporary folders and always clean them up. Each kind lives in
its own module under tests/fixtures/."""

pytest_plugins = [
    "tests.fixtures.auth",
    "tests.fixtures.browser",
    "tests.fixtures.grpc",
    "tests.fixtures.kube",
    "tests.fixtures.nats",
    # Before safety, which builds on it.
    "tests.fixtures.standin",
    "tests.fixtures.safety",
    "tests.fixtures.sandboxes",
    "tests.fixtures.shell",
    "tests.fixtures.xdisplay",
    # Last: it builds on the fixtures above (importing it earlier would skip their
    # assertion rewriting).
    "tests.fixtures.orchestrator",
]
