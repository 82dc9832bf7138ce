"""The orchestrator's readiness follows NATS: with the nats-server frozen (SIGSTOP: its
connections stay open but nothing answers) health says NOT_SERVING and CreateSession is
UNAVAILABLE saying NATS is unreachable; once it runs again, health is SERVING again."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from deskpilot.common.natsserver import NatsServer
from deskpilot.standin import Turn
from deskpilot.v1 import orchestrator_pb2, session_pb2

S = session_pb2
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
SERVICE = "deskpilot.v1.Orchestrator"


@dataclass
class Freezer:
    """Stops and continues the nats-server process."""

    pid: int
    frozen: bool = False

    def freeze(self) -> None:
        os.kill(self.pid, signal.SIGSTOP)
        self.frozen = True

    def thaw(self) -> None:
        if self.frozen:
            os.kill(self.pid, signal.SIGCONT)
            self.frozen = False


@pytest.fixture
def nats_freezer(nats_server: NatsServer) -> Iterator[Freezer]:
    """The nats-server always runs again after the test, whatever happened."""
    assert nats_server.pid is not None
    freezer = Freezer(nats_server.pid)
    try:
        yield freezer
    finally:
        freezer.thaw()


async def _until_health(health: health_pb2_grpc.HealthStub, status: int) -> None:
    """Poll until both the server's and the service's health are `status`."""
    async with asyncio.timeout(60):
        while True:
            answers = [
                (await health.Check(health_pb2.HealthCheckRequest(service=name))).status
                for name in ("", SERVICE)
            ]
            if answers == [status, status]:
                return
            await asyncio.sleep(0.1)


async def test_readiness_and_create_session_follow_nats(
    orchestrator_stack, nats_freezer: Freezer
) -> None:
    async with orchestrator_stack([Turn.text("hi")]) as stack:
        channel = grpc.aio.insecure_channel(stack.replicas[0].server.address)
        stack.stack.push_async_callback(channel.close)
        health = health_pb2_grpc.HealthStub(channel)
        await _until_health(health, SERVING)

        nats_freezer.freeze()
        await _until_health(health, NOT_SERVING)
        config = S.SessionConfig(task="do it", model="claude-sonnet-4-6")
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stack.stub.CreateSession(
                orchestrator_pb2.CreateSessionRequest(config=config), timeout=120
            )
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE, info.value.details()
        assert "NATS" in info.value.details() and "unreachable" in info.value.details()

        nats_freezer.thaw()
        await _until_health(health, SERVING)
        reply = await stack.stub.CreateSession(
            orchestrator_pb2.CreateSessionRequest(config=config), timeout=60
        )
        assert reply.session.status == S.SESSION_STATUS_STARTING
