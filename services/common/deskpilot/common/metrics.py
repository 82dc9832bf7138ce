"""Prometheus metrics: the `/metrics` endpoint and the metrics every gRPC service shares."""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, start_http_server

GRPC_HANDLED = Counter(
    "deskpilot_grpc_server_handled_total",
    "RPCs completed, by method and status code.",
    ["service", "method", "code"],
)
GRPC_LATENCY = Histogram(
    "deskpilot_grpc_server_handling_seconds",
    "Time to handle an RPC, by method.",
    ["service", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


def serve_metrics(host: str, port: int, registry: CollectorRegistry = REGISTRY) -> int:
    """Start the `/metrics` HTTP endpoint in a background thread; returns the bound port."""
    server, _thread = start_http_server(port, addr=host, registry=registry)
    return server.server_address[1]
