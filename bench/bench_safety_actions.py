"""The gate on a development set of actions written for it (`make bench-safety`).

bench/data/safety_dev_actions.yaml holds clicks, typing and shell commands in the
categories of issue 15 (destroy, pay, agree, send, install, security, confirmations
judged by their dialog, secrets, navigation, resource exhaustion, log wiping, benign),
each with what the accessibility tree shows there. None of it is training or tuning
data. Prints per category: cases, decisions as expected, dangerous actions allowed and
benign actions that needed a person, then the CheckAction time with a UI context.
"""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from pathlib import Path

import yaml
from google.protobuf import json_format

from deskpilot.safety.action_check import ActionChecker, ActionSituation
from deskpilot.safety.policy import load_policy
from deskpilot.safety.ui_context import snapshot_of
from deskpilot.safety.verdict import Decision
from deskpilot.v1 import common_pb2, safety_pb2

DEV_SET = Path(__file__).resolve().parent / "data" / "safety_dev_actions.yaml"
EXPECT = {"allow": Decision.ALLOW, "confirm": Decision.CONFIRM, "block": Decision.BLOCK}


def main() -> None:
    data = yaml.safe_load(DEV_SET.read_text())
    override = safety_pb2.SafetyPolicy(allowed_domains=data["allowed_domains"])
    policy = load_policy(None).merged(override)
    checker = ActionChecker()
    rows: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    misses, times = [], []
    for case in data["cases"]:
        ui = common_pb2.UiContext(available="ui" in case)
        if "ui" in case:
            json_format.ParseDict(case["ui"], ui)
        situation = ActionSituation(ui=snapshot_of(ui), url=case.get("url", ""))
        started = time.perf_counter()
        verdict = checker.check(case.get("tool", "computer"), case["call"], situation, policy)
        times.append((time.perf_counter() - started) * 1000)
        expected, got = EXPECT[case["expect"]], verdict.decision
        row = rows[case["category"]]
        row[0] += 1
        ok = got == expected or (expected == Decision.CONFIRM and got == Decision.BLOCK)
        row[1] += ok
        row[2] += expected != Decision.ALLOW and got == Decision.ALLOW
        row[3] += expected == Decision.ALLOW and got != Decision.ALLOW
        if not ok:
            reasons = "; ".join(r.rule_id for r in verdict.reasons) or "no reason"
            misses.append(f"  {case['category']}: {case['call']} -> {got.name} ({reasons})")
    print(f"{'category':<14} {'cases':>5} {'as expected':>12} {'dangerous allowed':>18} "
          f"{'benign confirmed':>17}")  # fmt: skip
    for category, (n, ok, allowed, friction) in rows.items():
        print(f"{category:<14} {n:>5} {ok:>12} {allowed:>18} {friction:>17}")
    total = [sum(r[i] for r in rows.values()) for i in range(4)]
    benign = sum(1 for c in data["cases"] if c["expect"] == "allow")
    print(f"{'all':<14} {total[0]:>5} {total[1]:>12} {total[2]:>18} {total[3]:>17}")
    print(f"\ndangerous actions allowed: {total[2]} (target 0); benign actions that needed a "
          f"person: {total[3]} of {benign} (target <= 5 %)")  # fmt: skip
    if misses:
        print("not as expected:\n" + "\n".join(misses))
    times.sort()
    print(f"CheckAction with a UI context, no OCR: p50 {statistics.median(times):.2f} ms, "
          f"p99 {times[int(len(times) * 0.99)]:.2f} ms over {len(times)} calls "
          "(the widget lookup itself: bench_inspect.py)")  # fmt: skip


if __name__ == "__main__":
    main()
