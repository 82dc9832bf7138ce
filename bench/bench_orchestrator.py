"""Benchmark of the orchestrator with a real stack and the Messages API stand-in answering at
once (see bench/stack.py for what runs where).

1. CreateSession to the stand-in receiving the first model request, with a warm sandbox
   from the local provider's pool; baseline: the same with an empty pool (cold start).
   Target: <= 300 ms warm.
2. Overhead per step, excluding the model: from the session's events, the time from a
   ModelResponse to the next ModelRequest, for `echo hi` bash steps and for left clicks
   that return a screenshot; split into its stages from the event timestamps. Baseline,
   same run: the executor call alone (Shell.Bash / Display.Act over gRPC into the same
   sandbox) and one event publish alone. Targets: p50 <= 15 ms (bash), <= 60 ms (click).
3. 10 concurrent bash sessions (the `existing` provider: every session shares one local
   sandbox): errors (target 0), wall time, step latency p50/p99, RSS.
4. Input tokens of a 30-step trajectory where every tool_result carries a screenshot,
   under three context policies: (a) the default (keep 3, prune in batches of 5),
   (b) keep every screenshot (baseline), (c) keep the 3 most recent every step. Totals,
   ratios vs (b), cache-read share, and a price-weighted total (cache writes 1.25x, reads
   0.1x of the input price). Target: (a) >= 60% fewer input tokens than (b).

Memory: RSS of this process (orchestrator replicas and the stand-in run in it), the safety
service and the sandbox. Prints PASS/MISS per target.

Run: python bench/bench_orchestrator.py [--steps N] [--sessions N] [--starts N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import statistics
import time
import uuid
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass

from google.protobuf import struct_pb2
from stack import BenchStack, Replica, rss_mb, task, tree_rss_mb  # bench/stack.py

from deskpilot.common.signals import on_stop_signals
from deskpilot.orchestrator.context import ContextPolicy
from deskpilot.orchestrator.loop import LoopSettings
from deskpilot.orchestrator.sandboxes.client import SandboxClient
from deskpilot.orchestrator.sandboxes.existing import ExistingSandboxProvider
from deskpilot.orchestrator.sandboxes.local import LocalSandboxProvider
from deskpilot.orchestrator.store import SessionStore
from deskpilot.orchestrator.tools import TOOL_SETS, Executor
from deskpilot.v1 import common_pb2, events_pb2, orchestrator_pb2, session_pb2

S = session_pb2
MODEL = "claude-sonnet-4-6"
TOOL_SET = S.TOOL_SET_20250124
FOLLOW_SECONDS = 60.0
ENDED = (
    S.SESSION_STATUS_WAITING_INPUT,
    S.SESSION_STATUS_FINISHED,
    S.SESSION_STATUS_FAILED,
    S.SESSION_STATUS_CANCELLED,
)


# -- helpers -----------------------------------------------------------------------------------


def pct(samples: Sequence[float], q: float) -> float:
    """The q-quantile (0..1) of `samples`, nearest rank."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def ms(event: events_pb2.Event) -> float:
    return event.time.ToNanoseconds() / 1e6


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def config(text: str) -> S.SessionConfig:
    return S.SessionConfig(task=text, model=MODEL, tool_set=TOOL_SET)


async def run_session(replica: Replica, text: str) -> tuple[S.Session, list[events_pb2.Event]]:
    """Create a session, follow its events until it waits for input or ends; delete it."""
    created = await replica.stub.CreateSession(
        orchestrator_pb2.CreateSessionRequest(config=config(text))
    )
    session = created.session
    events = await follow(replica, session.id)
    await replica.stub.DeleteSession(orchestrator_pb2.DeleteSessionRequest(session_id=session.id))
    # From the events, not GetSession: a StatusChanged event is published before the session
    # record is saved, so the record may still show the previous status.
    session.status = events[-1].status_changed.to
    session.status_reason = events[-1].status_changed.reason
    session.steps = events[-1].step
    return session, events


async def follow(replica: Replica, session_id: str) -> list[events_pb2.Event]:
    """The session's events until it waits for input or ends (at most FOLLOW_SECONDS)."""
    events: list[events_pb2.Event] = []
    request = orchestrator_pb2.StreamEventsRequest(session_id=session_id, follow=True)
    try:
        async with asyncio.timeout(FOLLOW_SECONDS):
            async for reply in replica.stub.StreamEvents(request):
                events.append(reply.event)
                status = reply.event.status_changed
                if reply.event.HasField("status_changed") and status.to in ENDED:
                    return events
    except TimeoutError:
        pass
    request_record = orchestrator_pb2.GetSessionRequest(session_id=session_id)
    session = (await replica.stub.GetSession(request_record)).session
    raise RuntimeError(
        f"{session_id}: no end in its events after {len(events)} events; the record says "
        f"{S.SessionStatus.Name(session.status)} {session.status_reason!r}"
    )


@dataclass
class StepTimes:
    """One tool step between a ModelResponse and the next ModelRequest (ms)."""

    total: float
    record: float  # ModelResponse published + session saved, until ActionProposed
    gate: float  # ActionProposed published + CheckAction
    executor: float  # the executor call as the orchestrator timed it
    store: float  # SafetyVerdict published + screenshot stored, around the executor
    scan: float  # ActionExecuted published + ScanContent call(s)
    result: float  # ContentScanned published, tool_result built
    next_request: float  # ToolResult published, session saved, context prepared


def step_times(events: list[events_pb2.Event]) -> list[StepTimes]:
    """The stages of every tool step, from the event timestamps."""
    steps = []
    current: dict[str, events_pb2.Event] = {}
    for event in events:
        kind = event.WhichOneof("payload")
        if kind == "model_response":
            current = {"model_response": event}
        elif kind == "model_request" and "tool_result" in current:
            t = {k: ms(e) for k, e in current.items()}
            executed = current["action_executed"].action_executed.latency_ms
            scanned = t.get("content_scanned", t["action_executed"])
            steps.append(
                StepTimes(
                    total=ms(event) - t["model_response"],
                    record=t["action_proposed"] - t["model_response"],
                    gate=t["safety_verdict"] - t["action_proposed"],
                    executor=executed,
                    store=t["action_executed"] - t["safety_verdict"] - executed,
                    scan=scanned - t["action_executed"],
                    result=t["tool_result"] - scanned,
                    next_request=ms(event) - t["tool_result"],
                )
            )
            current = {}
        elif current and kind is not None:
            current[kind] = event  # the latest of each kind (several ContentScanned)
    return steps


SPLIT_HEADER = "  split (median ms): record | gate | executor | store | scan | result | next req"
STAGES = ("record", "gate", "executor", "store", "scan", "result", "next_request")


def print_split(label: str, steps: list[StepTimes]) -> None:
    parts = [statistics.median(getattr(step, stage) for step in steps) for stage in STAGES]
    print(f"  {label:<7}" + " | ".join(f"{part:6.2f}" for part in parts))


async def timed_ms(action: Callable[[], object], rounds: int, warmup: int = 3) -> list[float]:
    for _ in range(warmup):
        await action()  # type: ignore[misc]
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        await action()  # type: ignore[misc]
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def tool_call(name: str, tool_type: str, **arguments: object) -> common_pb2.ToolCall:
    struct = struct_pb2.Struct()
    struct.update(arguments)
    return common_pb2.ToolCall(
        tool_use_id=f"toolu_{uuid.uuid4().hex[:12]}", name=name, tool_type=tool_type, input=struct
    )


# -- 2. overhead per step ----------------------------------------------------------------------


async def overhead(stack: BenchStack, replica: Replica, sandbox: S.ProvisionedSandbox, n: int):
    spec = TOOL_SETS[TOOL_SET]
    rows = {}
    for kind in ("bash", "click"):
        session, events = await run_session(replica, task(kind, n, f"overhead-{kind}"))
        steps = step_times(events)
        errors = sum(1 for e in events if e.HasField("tool_result") and e.tool_result.is_error)
        if len(steps) != n or errors:
            raise RuntimeError(f"{kind}: {len(steps)} of {n} steps, {errors} errors: {session}")
        rows[kind] = steps

    # Baselines, same sandbox: the executor call alone, and one event publish alone.
    client = SandboxClient(sandbox.endpoints, spec, credential=sandbox.secrets.executor_credential)
    counter = iter(range(10**6))

    async def bash() -> None:
        call = tool_call("bash", spec.bash_type, command="echo hi")
        await client.run(Executor.BASH, call, uuid.uuid4().hex)

    async def click() -> None:
        step = next(counter)
        spot = [40 + (step * 23) % 1000, 700 - (step * 7) % 300]
        call = tool_call("computer", spec.computer_type, action="left_click", coordinate=spot)
        await client.run(Executor.DISPLAY, call, uuid.uuid4().hex)

    base = {"bash": await timed_ms(bash, n), "click": await timed_ms(click, n)}
    await client.close()
    assert stack.bus is not None
    sequence = iter(range(1, 10**6))

    async def publish() -> None:
        event = events_pb2.Event(
            session_id="s-bench-publish",
            sequence=next(sequence),
            step=1,
            producer="bench",
            status_changed=events_pb2.StatusChanged(to=S.SESSION_STATUS_RUNNING),
        )
        event.time.GetCurrentTime()
        await stack.bus.publish_event(event)

    publish_ms = statistics.median(await timed_ms(publish, n))
    await stack.bus.purge_session_events("s-bench-publish")
    store = SessionStore(stack.bus)
    await store.create(S.SessionRecord(session=S.Session(id="s-bench-store")))

    async def save() -> None:
        await store.update("s-bench-store", lambda record: None)

    save_ms = statistics.median(await timed_ms(save, n))
    await store.delete("s-bench-store")

    print(f"\n== 2. overhead per step, model excluded ({n} steps each; ms)")
    print(f"  one event publish alone (JetStream ack), median: {publish_ms:6.2f} ms")
    print(f"  one session record save alone (KV get + CAS),   median: {save_ms:6.2f} ms")
    head = f"  {'step':<7}{'p50':>8}{'p90':>8}   {'executor alone p50':>18}   {'ratio':>6}"
    print(head + "   added by the orchestrator p50")
    results = {}
    for kind, steps in rows.items():
        totals = [s.total for s in steps]
        alone = statistics.median(base[kind])
        p50 = statistics.median(totals)
        added = statistics.median(s.total - s.executor for s in steps)
        print(
            f"  {kind:<7}{p50:8.2f}{pct(totals, 0.9):8.2f}   {alone:18.2f}   "
            f"x{p50 / alone:5.2f}   {added:8.2f}"
        )
        results[kind] = p50
    print(SPLIT_HEADER)
    for kind, steps in rows.items():
        print_split(kind, steps)
    print(f"  target bash p50 <= 15 ms: {verdict(results['bash'] <= 15)}")
    print(f"  target click p50 <= 60 ms: {verdict(results['click'] <= 60)}")


# -- 1. create -> first model request ----------------------------------------------------------


async def first_request(
    stack: BenchStack, replica: Replica, label: str, n: int
) -> tuple[list[float], list[float]]:
    """CreateSession start to the stand-in receiving the session's first request, and to
    the CreateSession reply (ms)."""
    provider = replica.manager.provider
    samples, replies = [], []
    for i in range(n):
        if isinstance(provider, LocalSandboxProvider):
            await provider.wait_for_pool()  # warm: the pool is full before timing
        tag = f"{label}-{i}-{uuid.uuid4().hex[:6]}"
        started = time.perf_counter()
        created = await replica.stub.CreateSession(
            orchestrator_pb2.CreateSessionRequest(config=config(task("bash", 0, tag)))
        )
        replies.append((time.perf_counter() - started) * 1000)
        await follow(replica, created.session.id)
        samples.append((stack.planner.first_request_at[tag] - started) * 1000)
        await replica.stub.DeleteSession(
            orchestrator_pb2.DeleteSessionRequest(session_id=created.session.id)
        )
    return samples, replies


async def startup(stack: BenchStack, warm: Replica, cold: Replica, n: int) -> None:
    warm_ms, warm_reply_ms = await first_request(stack, warm, "warm", n)
    cold_ms, _ = await first_request(stack, cold, "cold", max(2, n // 2))
    w, c = statistics.median(warm_ms), statistics.median(cold_ms)
    print("\n== 1. CreateSession -> first model request (local provider, ms)")
    print(f"  cold sandbox (empty pool, baseline) median {c:8.1f}   ({len(cold_ms)} runs)")
    print(f"  warm sandbox (pool of 1)            median {w:8.1f}   x{w / c:5.3f} of cold")
    print(f"  warm samples: {', '.join(f'{s:.1f}' for s in warm_ms)}")
    reply = statistics.median(warm_reply_ms)
    print(f"  of which until the CreateSession reply (warm), median {reply:.1f}")
    print(f"  target warm <= 300 ms: {verdict(w <= 300)}")


# -- 3. concurrent sessions --------------------------------------------------------------------


async def concurrent(replica: Replica, sessions: int, steps: int) -> None:
    before = rss_mb()
    started = time.perf_counter()
    outcomes = await asyncio.gather(
        *(run_session(replica, task("bash", steps, f"conc-{i}")) for i in range(sessions)),
        return_exceptions=True,
    )
    wall = time.perf_counter() - started
    errors: list[str] = []
    step_ms: list[float] = []
    split: list[StepTimes] = []
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            errors.append(repr(outcome))
            continue
        session, events = outcome
        failed = [e for e in events if e.HasField("tool_result") and e.tool_result.is_error]
        if session.status != S.SESSION_STATUS_WAITING_INPUT or failed or session.steps != steps + 1:
            errors.append(f"{session.id}: {S.SessionStatus.Name(session.status)} {failed[:1]}")
        requests = [ms(e) for e in events if e.HasField("model_request")]
        step_ms += [b - a for a, b in itertools.pairwise(requests)]
        split += step_times(events)
    print(f"\n== 3. {sessions} concurrent sessions, {steps} bash steps each (existing provider)")
    print(f"  errors {len(errors)}   wall {wall:6.2f} s")
    for error in errors[:5]:
        print(f"    {error}")
    print(
        f"  step (model request to next) p50 {statistics.median(step_ms):7.2f} ms   "
        f"p99 {pct(step_ms, 0.99):7.2f} ms"
    )
    overhead_ms = [step.total for step in split]
    print(
        f"  overhead (model excluded)     p50 {statistics.median(overhead_ms):7.2f} ms   "
        f"p99 {pct(overhead_ms, 0.99):7.2f} ms"
    )
    print(SPLIT_HEADER)
    print_split("bash", split)
    print(f"  RSS of this process {before:7.1f} MB before, {rss_mb():7.1f} MB after")
    print(f"  target 0 errors: {verdict(not errors)}")


# -- 4. tokens of a screenshot trajectory ------------------------------------------------------


POLICIES = {
    "(a) default: keep 3, prune by 5": ContextPolicy(),
    "(b) keep every screenshot": ContextPolicy(keep_recent_images=10_000),
    "(c) keep 3, prune every step": ContextPolicy(keep_recent_images=3, prune_batch=1),
}


def priced(fresh: int, write: int, read: int) -> float:
    """Input tokens weighted by the API's list prices: cache writes (5 min) cost 1.25x the
    input price, cache reads 0.1x."""
    return fresh + 1.25 * write + 0.1 * read


async def tokens(stack: BenchStack, replicas: dict[str, Replica], steps: int) -> None:
    totals: dict[str, tuple[int, int, int, int]] = {}
    for name, replica in replicas.items():
        stack.model.cache.clear()  # each policy starts from a cold prompt cache
        first = len(stack.model.message_requests)
        session, _events = await run_session(replica, task("move", steps, f"tokens-{name[:3]}"))
        requests = stack.model.message_requests[first:]
        if session.steps != steps + 1 or any(r.usage is None for r in requests):
            raise RuntimeError(f"{name}: {session.steps} steps, {session.status_reason}")
        fresh = sum(r.usage.input_tokens for r in requests)  # type: ignore[union-attr]
        write = sum(r.usage.cache_creation_input_tokens for r in requests)  # type: ignore[union-attr]
        read = sum(r.usage.cache_read_input_tokens for r in requests)  # type: ignore[union-attr]
        images = max(r.image_count for r in requests)
        totals[name] = (fresh, write, read, images)
    base = sum(totals["(b) keep every screenshot"][:3])
    base_priced = priced(*totals["(b) keep every screenshot"][:3])
    print(f"\n== 4. input tokens of a {steps}-step screenshot trajectory ({steps + 1} requests)")
    print(
        f"  {'policy':<34}{'total':>10}{'fresh':>10}{'cache write':>12}{'cache read':>12}"
        f"{'read share':>11}{'vs (b)':>8}{'priced':>10}{'vs (b)':>8}{'max imgs':>9}"
    )
    for name, (fresh, write, read, images) in totals.items():
        total = fresh + write + read
        print(
            f"  {name:<34}{total:10d}{fresh:10d}{write:12d}{read:12d}"
            f"{read / total:11.1%}{total / base:8.3f}"
            f"{priced(fresh, write, read):10.0f}{priced(fresh, write, read) / base_priced:8.3f}"
            f"{images:9d}"
        )
    saved = 1 - sum(totals["(a) default: keep 3, prune by 5"][:3]) / base
    print(f"  (a) uses {saved:.1%} fewer input tokens than (b)")
    print(f"  target (a) >= 60% fewer than (b): {verdict(saved >= 0.6)}")


# -- main --------------------------------------------------------------------------------------


async def main(steps: int, sessions: int, starts: int, sandbox_user: str) -> None:
    started = time.perf_counter()
    async with BenchStack() as stack:
        warm_provider = LocalSandboxProvider(
            pool_size=1, user=sandbox_user, work_dir=stack.sandbox_folder("warm")
        )
        cold_provider = LocalSandboxProvider(
            pool_size=0, user=sandbox_user, work_dir=stack.sandbox_folder("cold")
        )
        stack.keep(warm_provider.close)
        stack.keep(cold_provider.close)
        warm_provider.fill_pool()
        await warm_provider.wait_for_pool()
        warm = await stack.replica(warm_provider)
        cold = await stack.replica(cold_provider)
        await startup(stack, warm, cold, starts)

        # One more sandbox, shared by the remaining sessions through the `existing` provider.
        await warm_provider.wait_for_pool()
        provisioned = await warm_provider.acquire("bench-shared", common_pb2.Size(), "")
        endpoints = provisioned.endpoints
        await warm_provider.wait_for_pool()
        shared = ExistingSandboxProvider(endpoints, provisioned.secrets)
        existing = await stack.replica(shared)
        await overhead(stack, existing, provisioned, steps)
        await concurrent(existing, sessions, 5)
        replicas = {
            name: await stack.replica(shared, LoopSettings(context=policy))
            for name, policy in POLICIES.items()
        }
        await tokens(stack, replicas, 30)

        sandbox_pid = int(endpoints.sandbox_id.rsplit("-", 1)[1])  # local-N-<pid>
        print("\n== memory (RSS, MB)")
        print(f"  this process (orchestrator replicas + stand-in) {rss_mb():7.1f}")
        print(f"  safety service                                  {rss_mb(stack.safety_pid):7.1f}")
        print(f"  sandbox (supervisor, X, VNC, desktop, executors) {tree_rss_mb(sandbox_pid):6.1f}")
    print(f"\ntotal bench time {time.perf_counter() - started:.1f} s")


async def run(work: Coroutine[object, object, None]) -> None:
    """Run `work`; SIGTERM and SIGINT cancel it, so every process it started is stopped."""
    task = asyncio.ensure_future(work)
    on_stop_signals(lambda _signal: task.cancel())
    with contextlib.suppress(asyncio.CancelledError):
        await task


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="steps per overhead session")
    parser.add_argument("--sessions", type=int, default=10, help="concurrent sessions")
    parser.add_argument("--starts", type=int, default=4, help="warm session starts timed")
    parser.add_argument(
        "--sandbox-user",
        default="deskpilot",
        help="user local sandboxes run as when this runs as root (never root)",
    )
    args = parser.parse_args()
    asyncio.run(run(main(args.steps, args.sessions, args.starts, args.sandbox_user)))
