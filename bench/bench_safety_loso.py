"""Injection detection measured on sources the model did not learn from (`make bench-safety`).

Leave one source out: for each source of `deskpilot.safety.sources`, a model is trained the
way `make train-safety` trains (logistic regression over the same hashed features) on
every *other* source; its threshold is chosen on a fifth of that training data held back
(the score at which 3 % of its benign texts are flagged); then it is scored on the left-out
source at that fixed threshold. Printed per source: AUROC (sources with both labels),
recall and false-positive rate at the threshold, and the same for the gate as shipped
(model + rules, at the policy's taint threshold), marked where the shipped model saw the
source in training.

What it does not cover: screenshots (text only here; OCR'd screens are in
bench_safety.py), the second-stage judge, and sources of one label (only recall or only
the false-positive rate means anything there).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from deskpilot.safety.policy import load_policy
from deskpilot.safety.sources import SOURCES, Source
from deskpilot.safety.text_scan import TextScanner
from deskpilot.safety.train import build_matrix

TARGET_FPR = 0.03
# What the shipped model was trained on (train.py via datasets.labelled).
SEEN_BY_SHIPPED = {"bipia", "notinject", "nl2bash", "authored"}


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


def threshold_for(scores: np.ndarray, labels: np.ndarray, fpr: float) -> float:
    """The lowest score that flags at most `fpr` of the benign texts."""
    benign = np.sort(scores[labels == 0])
    return float(benign[min(len(benign) - 1, int(np.ceil(len(benign) * (1 - fpr))))])


def main() -> None:
    from sklearn.linear_model import LogisticRegression

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--c", type=float, default=4.0, help="inverse regularisation")
    args = parser.parse_args()
    started = time.perf_counter()
    data: dict[str, tuple[list[str], np.ndarray]] = {}
    for source in SOURCES:
        rows = source.texts()
        data[source.name] = ([t for t, _ in rows], np.asarray([y for _, y in rows]))
    matrices = {name: build_matrix(texts) for name, (texts, _) in data.items()}
    scanner, policy = TextScanner(), load_policy(None)
    shipped = {
        name: np.asarray([scanner.scan(t).score for t in texts])
        for name, (texts, _) in data.items()
    }
    print(f"{sum(len(t) for t, _ in data.values())} texts from {len(SOURCES)} sources "
          f"({time.perf_counter() - started:.0f} s to read, featurise and score)\n")  # fmt: skip
    print(f"{'held-out source':<15} {'texts':>6} {'inj':>5} | {'LOSO AUROC':>10} {'recall':>7} "
          f"{'FPR':>6} {'thr':>5} | {'shipped AUROC':>13} {'recall':>7} {'FPR':>6}")  # fmt: skip
    from scipy.sparse import vstack

    rng = np.random.default_rng(1)
    aurocs = []
    for source in SOURCES:
        held = source.name
        others = [n for n in data if n != held]
        x = vstack([matrices[n] for n in others]).tocsr()
        y = np.concatenate([data[n][1] for n in others])
        tune = rng.random(len(y)) < 0.2  # held back to choose the threshold
        model = LogisticRegression(C=args.c, class_weight="balanced", max_iter=2000)
        model.fit(x[~tune], y[~tune])
        threshold = threshold_for(model.predict_proba(x[tune])[:, 1], y[tune], TARGET_FPR)
        labels = data[held][1]
        scores = model.predict_proba(matrices[held])[:, 1]
        area = auroc(labels, scores)
        if area is not None:
            aurocs.append(area)
        recall, fpr = at_threshold(labels, scores, threshold)
        ship_area = auroc(labels, shipped[held])
        ship_recall, ship_fpr = at_threshold(labels, shipped[held], policy.taint_threshold)
        seen = "*" if held in SEEN_BY_SHIPPED else " "
        print(
            f"{held:<15} {len(labels):>6} {int(labels.sum()):>5} | "
            f"{_fmt(area):>10} {recall:>7} {fpr:>6} {threshold:>5.2f} | "
            f"{_fmt(ship_area):>12}{seen} {ship_recall:>7} {ship_fpr:>6}"
        )
    print(f"\nLOSO AUROC: worst {min(aurocs):.3f}, median {float(np.median(aurocs)):.3f} "
          f"(target >= 0.95 on every source); thresholds at {TARGET_FPR:.0%} FPR on training "
          "data held back; * = the shipped model trained on that source (not a held-out "
          f"figure). Took {time.perf_counter() - started:.0f} s.")  # fmt: skip
    _describe_sources(SOURCES)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _describe_sources(sources: tuple[Source, ...]) -> None:
    print("\nsources:")
    for source in sources:
        print(f"  {source.name}: {source.origin}; {source.licence}; {source.note}")


if __name__ == "__main__":
    main()
