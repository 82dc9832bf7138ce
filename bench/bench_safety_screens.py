"""The injection detector on rendered screens it was never built on (`make bench-safety`).

bench/data/safety_dev_screens.yaml holds pages written for this project in the categories
the gate got wrong (pages discussing attacks, instructions for people, text in other
languages; injections that are faint, tiny, in a footer, in a fake transcript, in command
output, in Chinese, Spanish, German, French). Training never reads it. Each page is
rendered, read by the gate's OCR (ScanContent's path) and judged at the default policy's
taint threshold; the same text is also scored directly, so OCR losses show apart from
the detector's. Printed: per-category errors, recall and false-positive rate, and
ScanContent latency per screen.

What it does not cover: 25 pages are a development set, not a population: one error is
4 points of recall. Real screenshots (fonts, anti-aliasing, layouts) differ from these.
"""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from pathlib import Path

import yaml

from deskpilot.safety.ocr import OcrEngine, ScreenReader
from deskpilot.safety.policy import load_policy
from deskpilot.safety.render import png_bytes, render_screen
from deskpilot.safety.scanner import ContentScanner
from deskpilot.safety.taint import TaintStore
from deskpilot.safety.text_scan import TextScanner

CASES = Path(__file__).with_name("data") / "safety_dev_screens.yaml"


def main() -> None:
    cases = yaml.safe_load(CASES.read_text(encoding="utf-8"))
    policy = load_policy()
    engine = OcrEngine(1)
    text_scanner = TextScanner.shipped()
    errors: dict[str, list[str]] = defaultdict(list)
    counts: dict[str, int] = defaultdict(int)
    outcome = {"screen": [0, 0, 0, 0], "text": [0, 0, 0, 0]}  # tp, pos, fp, neg
    latency = []
    for index, case in enumerate(cases):
        injected = "injection" in case
        image = render_screen(
            case["body"], case.get("injection"), case.get("style", "plain"), seed=index
        )
        scanner = ContentScanner(text_scanner, ScreenReader(engine), TaintStore())
        started = time.perf_counter()
        on_screen = scanner.scan_image(png_bytes(image), policy, session_id=case["id"])
        latency.append((time.perf_counter() - started) * 1000)
        text = case["body"] + "\n" + case.get("injection", "")
        as_text = text_scanner.scan(text).score >= policy.taint_threshold
        counts[case["category"]] += 1
        for kind, flagged in (("screen", on_screen.injection), ("text", as_text)):
            tally = outcome[kind]
            tally[0 if injected else 2] += flagged
            tally[1 if injected else 3] += 1
            if flagged != injected:
                errors[case["category"]].append(
                    f"{case['id']} ({kind}: {'missed' if injected else 'false alarm'})"
                )
    print(f"== Development screens ({len(cases)}, never trained on; threshold "
          f"{policy.taint_threshold}) ==")  # fmt: skip
    for kind, (tp, pos, fp, neg) in outcome.items():
        print(f"{kind:>6}: recall {tp}/{pos} ({tp / pos:.0%}), false positives {fp}/{neg} "
              f"({fp / neg:.0%})")  # fmt: skip
    print("errors by category (screen: rendered and OCR'd; text: the same text scored):")
    for category in sorted(counts):
        listed = ", ".join(errors[category]) or "none"
        print(f"  {category} ({counts[category]}): {listed}")
    print(f"ScanContent per screen: p50 {statistics.median(latency):.0f} ms, "
          f"max {max(latency):.0f} ms")  # fmt: skip
    engine.close()


if __name__ == "__main__":
    main()
