"""Wiring a replica: NATS, the sandbox provider, the session manager, the gRPC binding."""

from __future__ import annotations

import contextlib

from deskpilot.bus import Bus
from deskpilot.common.client_tokens import TokenFile, TokenFileError
from deskpilot.common.grpc_server import GrpcServer, ServiceBinding
from deskpilot.common.keys import KeyFileError, load_secret_key
from deskpilot.orchestrator.access import ACCESS
from deskpilot.orchestrator.loop import LoopSettings
from deskpilot.orchestrator.manager import SessionManager
from deskpilot.orchestrator.model_endpoint import inspect_model_endpoint
from deskpilot.orchestrator.sandboxes.factory import make_provider
from deskpilot.orchestrator.sandboxes.provider import SandboxProvider
from deskpilot.orchestrator.servicer import OrchestratorServicer
from deskpilot.orchestrator.settings import OrchestratorSettings
from deskpilot.v1 import orchestrator_pb2, orchestrator_pb2_grpc


def binding(servicer: OrchestratorServicer) -> ServiceBinding:
    """The Orchestrator service, ready while NATS answers: every session lives there."""
    return ServiceBinding(
        orchestrator_pb2.DESCRIPTOR.services_by_name["Orchestrator"],
        servicer,
        orchestrator_pb2_grpc.add_OrchestratorServicer_to_server,
        ready=servicer.bus.unreachable_reason,
        access=ACCESS,
    )


async def build(
    settings: OrchestratorSettings, stack: contextlib.AsyncExitStack
) -> list[ServiceBinding]:
    """run_service's build hook."""
    _check_own_keys(settings)
    bus = await Bus.connect(
        settings.nats_url, f"orchestrator-{settings.replica_id}", seed_file=settings.nats_seed_file
    )
    stack.push_async_callback(bus.close)
    await bus.ensure_resources(replicas=settings.jetstream_replicas)
    provider = make_provider(settings.sandbox, settings.default_size)
    stack.push_async_callback(provider.close)
    manager = SessionManager(bus, provider, settings, model=await inspect_model_endpoint())
    await manager.start()
    stack.push_async_callback(manager.stop)
    return [binding(OrchestratorServicer(manager, bus))]


def _check_own_keys(settings: OrchestratorSettings) -> None:
    """Stop with one line when the replica has no token for the safety gate (it would
    answer every action with BLOCK) or no key to seal sandboxes' secrets with."""
    variable = "DESKPILOT_ORCHESTRATOR_AUTH__TOKEN_FILE"
    if settings.auth.token_file is None:
        raise SystemExit(
            "deskpilot-orchestrator: no token for the safety gate: set --auth.token-file / "
            f"{variable} to a token of role orchestrator (`deskpilot up` writes one)"
        )
    try:
        TokenFile(settings.auth.token_file)
    except TokenFileError as exc:
        raise SystemExit(f"deskpilot-orchestrator: {exc}") from None
    if settings.auth.secrets_key_file is None:
        raise SystemExit(
            "deskpilot-orchestrator: no key to seal sandboxes' secrets with: set "
            "--auth.secrets-key-file / DESKPILOT_ORCHESTRATOR_AUTH__SECRETS_KEY_FILE to a "
            "secret key shared by every replica (`deskpilot up` makes one)"
        )
    try:
        load_secret_key(settings.auth.secrets_key_file)
    except KeyFileError as exc:
        raise SystemExit(f"deskpilot-orchestrator: {exc}") from None


async def start_replica(
    bus: Bus,
    provider: SandboxProvider,
    settings: OrchestratorSettings,
    exit_stack: contextlib.AsyncExitStack,
    *,
    loop_settings: LoopSettings | None = None,
) -> tuple[SessionManager, GrpcServer]:
    """A replica serving gRPC in this process (tests, benchmarks); stopped by `exit_stack`."""
    manager = SessionManager(
        bus, provider, settings, loop_settings=loop_settings, model=await inspect_model_endpoint()
    )
    await manager.start()
    exit_stack.push_async_callback(manager.stop)
    server = GrpcServer(settings, [binding(OrchestratorServicer(manager, bus))])
    await server.start()
    exit_stack.push_async_callback(server.stop, 0.5)
    return manager, server
