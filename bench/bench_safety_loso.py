"""Injection detection measured on sources the detector did not learn from (`make bench-safety`).

Leave one source out: for each source of `deskpilot.safety.sources`, the two-stage detector
is fitted exactly as `make train-safety` fits the shipped one (`detector_fit.fit`: n-gram
model, multilingual head, mention-augmented negatives) on every *other* source; its
threshold is the score flagging 3 % of the benign texts of a fifth of that training data
held back; then it is scored on the left-out source at that fixed threshold. Printed per
source: AUROC (sources with both labels), recall and false-positive rate, for the two
stages together and for stage one alone (at its own threshold), and the texts routed to
the second stage. The shipped detector trains on every source, so no figure of it here
would be held-out; none is printed.

What it does not cover: screenshots (bench_safety_screens.py reads rendered screens),
the Claude judge, and sources of one label (only recall or only the false-positive rate
means anything there). e5 vectors are cached under $XDG_CACHE_HOME (the first run embeds
some 15 000 windows: about 10 minutes on two cores).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from deskpilot.safety.detector_fit import TARGET_FPR, fit, scores
from deskpilot.safety.embeddings import EmbeddingCache
from deskpilot.safety.multilingual import other_language
from deskpilot.safety.sources import SOURCES, Source
from deskpilot.safety.text_scan import TextScanner


def auroc(labels: np.ndarray, scores: np.ndarray) -> float | None:
    """Area under the ROC curve by ranks (ties averaged); None with one label only."""
    positives, negatives = labels.sum(), len(labels) - labels.sum()
    if positives == 0 or negatives == 0:
        return None
    order = scores.argsort(kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):  # average the ranks of ties
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float(
        (ranks[labels == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives)
    )


def at_threshold(labels: np.ndarray, scores: np.ndarray, threshold: float) -> tuple[str, str]:
    flagged = scores >= threshold
    positives, negatives = labels == 1, labels == 0
    recall = f"{flagged[positives].mean():.3f}" if positives.any() else "-"
    fpr = f"{flagged[negatives].mean():.3f}" if negatives.any() else "-"
    return recall, fpr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--c", type=float, default=4.0, help="inverse regularisation")
    parser.add_argument("--only", nargs="*", help="hold out only these sources")
    args = parser.parse_args()
    started = time.perf_counter()
    data = {source.name: source.texts() for source in SOURCES}
    cache = EmbeddingCache()
    print(f"{sum(len(rows) for rows in data.values())} texts from {len(SOURCES)} sources\n")
    print(f"{'held-out source':<14} {'texts':>6} {'inj':>5} {'2nd':>5} | {'AUROC':>6} "
          f"{'recall':>6} {'FPR':>6} {'thr':>5} | {'stage one':>9} {'recall':>6} "
          f"{'FPR':>6}")  # fmt: skip
    areas: dict[str, float] = {}
    for source in SOURCES:
        held = source.name
        if args.only and held not in args.only:
            continue
        detector = fit({n: rows for n, rows in data.items() if n != held}, cache.embed, args.c)
        texts = [t for t, _ in data[held]]
        labels = np.asarray([y for _, y in data[held]])
        two = scores(detector.scanner, texts)
        one = scores(TextScanner(detector.scanner.model), texts)
        area, fast_area = auroc(labels, two), auroc(labels, one)
        if area is not None:
            areas[held] = area
        recall, fpr = at_threshold(labels, two, detector.threshold)
        fast_recall, fast_fpr = at_threshold(labels, one, detector.fast_threshold)
        routed = sum(other_language(t) for t in texts)
        print(
            f"{held:<14} {len(labels):>6} {int(labels.sum()):>5} {routed:>5} | "
            f"{_fmt(area):>6} {recall:>6} {fpr:>6} {detector.threshold:>5.2f} | "
            f"{_fmt(fast_area):>9} {fast_recall:>6} {fast_fpr:>6}",
            flush=True,
        )
    if areas:
        print(f"\nLOSO AUROC: worst {min(areas.values()):.3f} ({min(areas, key=areas.get)}), "
              f"median {float(np.median(list(areas.values()))):.3f}; target >= 0.95 on every "
              f"source. Thresholds at {TARGET_FPR:.0%} FPR on training data held back; "
              f"2nd = texts with a window in another language (routed to the head). "
              f"Took {time.perf_counter() - started:.0f} s.")  # fmt: skip
    _describe_sources(SOURCES)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _describe_sources(sources: tuple[Source, ...]) -> None:
    print("\nsources:")
    for source in sources:
        print(f"  {source.name}: {source.origin}; {source.licence}; {source.note}")


if __name__ == "__main__":
    main()
