"""Benchmark: a session's sandbox from the Kubernetes provider, warm and cold, against a
real kube-apiserver (the tests' fixture: etcd, kube-apiserver 1.20 from `make
kube-apiserver`, the test node agent running each Pod's sandbox as local processes).

- warm: claim a Ready warm Pod (label patch with resourceVersion) until its display
  executor answers GetInfo with the Pod's credential (target <= 300 ms);
- cold: create the Secret and Pod from the PodTemplate, watch it to Ready, executor
  answering (the node's readiness probe runs every periodSeconds, 1 s, as a kubelet's).

Warm and cold rounds alternate; prints p50 (and the slowest) of each.

    python bench/bench_kube_claim.py [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from deskpilot.orchestrator.sandboxes.client import SandboxClient
from deskpilot.orchestrator.sandboxes.kubernetes import KubernetesSandboxProvider
from deskpilot.orchestrator.tools import TOOL_SETS
from deskpilot.v1 import common_pb2, session_pb2
from tests.fixtures import kube
from tests.helpers.k8s import SANDBOXES

TARGET_WARM_MS = 300.0


async def _answering(sandbox: session_pb2.ProvisionedSandbox) -> None:
    client = SandboxClient(
        sandbox.endpoints,
        TOOL_SETS[session_pb2.TOOL_SET_20250124],
        credential=sandbox.secrets.executor_credential,
    )
    try:
        await client.info()
    finally:
        await client.close()


async def run(cluster: kube.KubeCluster, runs: int) -> None:
    warm_ms, cold_ms = [], []
    pool = KubernetesSandboxProvider(cluster.orchestrator(), namespace=SANDBOXES, pool_size=1)
    cold = KubernetesSandboxProvider(cluster.orchestrator(), namespace=SANDBOXES, pool_size=0)
    try:
        for i in range(runs):
            pool.fill_pool()
            await pool.wait_for_pool()
            started = time.perf_counter()
            sandbox = await pool.claim_warm(f"s-warm-{i}")
            assert sandbox is not None, "no warm Pod"
            await _answering(sandbox)
            warm_ms.append((time.perf_counter() - started) * 1000)
            await pool.release(sandbox.endpoints)
            started = time.perf_counter()
            sandbox = await cold.acquire(f"s-cold-{i}", common_pb2.Size(), "")
            await _answering(sandbox)
            cold_ms.append((time.perf_counter() - started) * 1000)
            await cold.release(sandbox.endpoints)
    finally:
        await pool.close()
        await cold.close()
    p50 = statistics.median(warm_ms)
    verdict = "PASS" if p50 <= TARGET_WARM_MS else "MISS"
    print(f"warm claim -> executor answering: p50 {p50:.0f} ms, max {max(warm_ms):.0f} ms "
          f"(target <= {TARGET_WARM_MS:.0f} ms: {verdict})")  # fmt: skip
    print(f"cold start -> executor answering: p50 {statistics.median(cold_ms):.0f} ms, "
          f"max {max(cold_ms):.0f} ms")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    fixture = kube.kube_cluster.__wrapped__()  # the pytest fixture's generator, run by hand
    cluster = next(fixture)
    try:
        asyncio.run(run(cluster, args.runs))
    finally:
        next(fixture, None)


if __name__ == "__main__":
    main()
