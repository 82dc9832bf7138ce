"""Streams and buckets kept on several servers of a real three-server JetStream cluster,
as the prod overlay runs NATS (`jetstream_replicas: 3`); a count the cluster cannot hold
is refused with a message that says so."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import nats.errors
import pytest

from deskpilot.bus import Bus, BusConfigError
from deskpilot.bus.names import EVENTS_STREAM, LEASES_BUCKET, SCREENSHOTS_BUCKET, SESSIONS_BUCKET
from deskpilot.common.natsserver import NatsServer
from deskpilot.common.net import free_port

STREAMS = [EVENTS_STREAM, f"KV_{SESSIONS_BUCKET}", f"KV_{LEASES_BUCKET}",
           f"OBJ_{SCREENSHOTS_BUCKET}"]  # fmt: skip


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[list[NatsServer]]:
    routes = [free_port() for _ in range(3)]
    servers = []
    for index, port in enumerate(routes):
        others = ",".join(f"nats://127.0.0.1:{p}" for p in routes if p != port)
        flags = ["--server_name", f"n{index}", "--cluster_name", "deskpilot",
                 "--cluster", f"nats://127.0.0.1:{port}", "--routes", others]  # fmt: skip
        servers.append(NatsServer(tmp_path / f"n{index}", extra_args=flags))
    try:
        for server in servers:
            server.start()
        yield servers
    finally:
        for server in servers:
            server.stop()


async def _ensured(bus: Bus, replicas: int) -> None:
    """ensure_resources once the cluster has formed: until its servers have elected a
    JetStream leader and placed the first streams, its API times out or says it is not
    ready."""
    for _ in range(30):
        try:
            await bus.ensure_resources(replicas=replicas)
            return
        except (nats.errors.TimeoutError, BusConfigError):
            await asyncio.sleep(1)
    await bus.ensure_resources(replicas=replicas)


async def test_every_stream_and_bucket_is_kept_on_three_servers(
    cluster: list[NatsServer],
) -> None:
    urls = ",".join(server.url for server in cluster)
    async with await Bus.connect(urls, "pytest") as bus:
        await _ensured(bus, 3)
        for stream in STREAMS:
            info = await bus.js.stream_info(stream)
            assert info.config.num_replicas == 3, stream
            assert info.cluster is not None, stream
            # Its leader and the other replicas (all three while a new leader is elected).
            peers = {p.name for p in info.cluster.replicas or []} | {info.cluster.leader}
            assert peers - {None} == {"n0", "n1", "n2"}, stream
        await bus.ensure_resources(replicas=3)  # idempotent


async def test_more_replicas_than_servers_is_refused_saying_why(nats_server: NatsServer) -> None:
    async with await Bus.connect(nats_server.url, "pytest") as bus:
        with pytest.raises(BusConfigError, match="replicas > 1 not supported"):
            await bus.ensure_resources(replicas=3)
