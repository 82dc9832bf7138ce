"""Fitting the two-stage detector, the one way shipping and every benchmark fold do it.

`fit` takes labelled sources and returns a TextScanner and its threshold:
1. Training texts are the sources' texts plus "mention, not use" copies: up to 80 attacks
   of each source quoted inside reports and articles, labelled benign.
2. A fifth of each source is held back, untouched, to choose the threshold.
3. Stage one: logistic regression over the hashed n-gram features.
4. Stage two: logistic regression over e5 vectors of windows sampled per source (capped,
   so the biggest sources do not drown the rest). A benign text gives up to
   WINDOWS_PER_TEXT windows; an injection only its highest-scored window, since the
   attack usually sits in one window of a long text.
5. The weak rules' weight, the head's calibration, whether a routed window keeps stage
   one's score when higher, and the threshold (the score that flags 3 % of the benign
   texts): all chosen on the held-back fifth.
Needs the `train` extra (scikit-learn).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from deskpilot.safety.features import N_FEATURES, LinearModel, feature_indices
from deskpilot.safety.hard_negatives import mention
from deskpilot.safety.multilingual import MultilingualHead, other_language
from deskpilot.safety.normalize import normalise
from deskpilot.safety.text_scan import SecondStage, TextScanner, windows

TARGET_FPR = 0.03
HELD_BACK = 0.2
MENTIONS_PER_SOURCE = 80
WINDOWS_PER_TEXT = 6
SAMPLE_CAP = 1500
# BIPIA's texts are long contexts, each window of which costs a full e5 pass.
SAMPLE_CAPS = {"bipia": 300}
RULE_WEIGHTS = (0.0, 0.25, 0.5, 0.75)

Labelled = list[tuple[str, int]]
Embed = Callable[[list[str]], np.ndarray]


@dataclass(frozen=True)
class Detector:
    scanner: TextScanner
    threshold: float  # of the two-stage scanner
    fast_threshold: float  # of stage one alone, for comparison


def fit(sources: dict[str, Labelled], embed: Embed, c: float = 4.0, seed: int = 1) -> Detector:
    """The detector trained on `sources`; the threshold chosen on a fifth held back."""
    from sklearn.linear_model import LogisticRegression

    tune: list[tuple[str, str, int]] = []
    train: list[tuple[str, str, int]] = []
    for name, rows in sources.items():
        # Every draw is seeded by the source alone, so a source contributes the same
        # training rows and windows to every fold it is in (and their vectors are cached).
        rng = random.Random(f"{seed}:{name}")
        attacks = [text for text, label in rows if label == 1]
        quoted = rng.sample(attacks, min(MENTIONS_PER_SOURCE, len(attacks)))
        named = [(name, text, label) for text, label in rows]
        named += [(name, mention(attack, rng), 0) for attack in quoted]
        rng.shuffle(named)
        cut = int(len(named) * HELD_BACK)
        tune += named[:cut]
        train += named[cut:]

    fast = LogisticRegression(C=c, class_weight="balanced", max_iter=2000)
    fast.fit(
        build_matrix([t for _, t, _ in train]),
        np.asarray([y for _, _, y in train]),
        sample_weight=source_weights([name for name, _, _ in train]),
    )
    model = LinearModel(fast.coef_[0].astype(np.float16), float(fast.intercept_[0]))
    tune_labels = np.asarray([y for _, _, y in tune])
    tune_texts = [t for _, t, _ in tune]
    model.rule_weight = best_rule_weight(model, tune_texts, tune_labels)
    stage_one = TextScanner(model)

    texts, labels = sample_windows(train, stage_one, seed)
    head_fit = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000)
    head_fit.fit(embed(texts), np.asarray(labels))
    head = MultilingualHead(head_fit.coef_[0], float(head_fit.intercept_[0]))
    fast_threshold = threshold_for(scores(stage_one, tune_texts), tune_labels, TARGET_FPR)
    routed = [
        i for i, text in enumerate(tune_texts) if tune_labels[i] == 0 and other_language(text)
    ]
    if routed:
        calibrate(head, [tune_texts[i] for i in routed], embed, fast_threshold)
    scanner = TextScanner(model, SecondStage(head, embed))
    head.keep_fast = max((False, True), key=lambda keep: _recall(scanner, head, keep, tune))
    threshold = threshold_for(scores(scanner, tune_texts), tune_labels, TARGET_FPR)
    return Detector(scanner, threshold, fast_threshold)


def calibrate(head: MultilingualHead, benign: list[str], embed: Embed, threshold: float) -> None:
    """Shift the head's bias so that it flags, at stage one's threshold, the target rate of
    benign held-back texts in other languages: the head's own scale is not stage one's,
    and one threshold serves both."""
    probe = TextScanner(LinearModel(np.zeros(1, dtype=np.float32), -20.0), SecondStage(head, embed))
    values = np.asarray([probe.scan(text).score for text in benign])
    at = float(np.clip(np.quantile(values, 1 - TARGET_FPR), 1e-6, 1 - 1e-6))
    head.bias += _logit(threshold) - _logit(at)


def _recall(
    scanner: TextScanner, head: MultilingualHead, keep_fast: bool, rows: list[tuple[str, str, int]]
) -> float:
    """Recall at the target false-positive rate with `keep_fast` set (on held-back rows)."""
    head.keep_fast = keep_fast
    labels = np.asarray([y for _, _, y in rows])
    values = scores(scanner, [t for _, t, _ in rows])
    return float((values[labels == 1] >= threshold_for(values, labels, TARGET_FPR)).mean())


def _logit(p: float) -> float:
    return float(np.log(p / (1 - p)))


def best_rule_weight(model: LinearModel, texts: list[str], labels: np.ndarray) -> float:
    """The weight of the weak rules that gives stage one the best recall at the target
    false-positive rate on the held-back texts (never on a benchmark's)."""

    def recall(weight: float) -> float:
        values = scores(TextScanner(model, rule_weight=weight), texts)
        return float((values[labels == 1] >= threshold_for(values, labels, TARGET_FPR)).mean())

    return max(RULE_WEIGHTS, key=recall)


def source_weights(names: list[str]) -> np.ndarray:
    """Per-row weights that give each source the weight of sqrt(its size) rows: the big
    sets of short prompts no longer drown the small sets of long prose, without a 35-text
    source counting as much as a 15 000-text one."""
    sizes = {name: names.count(name) for name in set(names)}
    weights = np.asarray([np.sqrt(sizes[name]) / sizes[name] for name in names])
    return weights * len(names) / weights.sum()


def sample_windows(
    rows: list[tuple[str, str, int]], stage_one: TextScanner, seed: int
) -> tuple[list[str], list[int]]:
    """Windows for the head: capped per source; an injection gives its top window."""
    by_source: dict[str, list[tuple[str, int]]] = {}
    for name, text, label in rows:
        by_source.setdefault(name, []).append((text, label))
    texts, labels = [], []
    for name, items in by_source.items():
        cap = SAMPLE_CAPS.get(name, SAMPLE_CAP)
        rng = random.Random(f"{seed}:{name}:windows")
        for text, label in rng.sample(items, min(cap, len(items))):
            spans = [text[start:end] for start, end in windows(text)]
            if label == 1 and len(spans) > 1:
                spans = [max(spans, key=lambda s: stage_one.score_window(s)[0])]
            for span in spans[:WINDOWS_PER_TEXT]:
                texts.append(span)
                labels.append(label)
    return texts, labels


def scores(scanner: TextScanner, texts: list[str]) -> np.ndarray:
    return np.asarray([scanner.scan(t).score for t in texts])


def threshold_for(values: np.ndarray, labels: np.ndarray, fpr: float) -> float:
    """The lowest score that flags at most `fpr` of the benign texts."""
    benign = np.sort(values[labels == 0])
    return float(benign[min(len(benign) - 1, int(np.ceil(len(benign) * (1 - fpr))))])


def build_matrix(texts: list[str]):
    """Binary, L2-normalised sparse rows, exactly as LinearModel.score sees them."""
    from scipy.sparse import csr_matrix

    indptr, indices, values = [0], [], []
    for text in texts:
        idx = feature_indices(normalise(text))
        indices.append(idx)
        values.append(np.full(idx.size, 1.0 / np.sqrt(max(idx.size, 1)), dtype=np.float32))
        indptr.append(indptr[-1] + idx.size)
    return csr_matrix(
        (np.concatenate(values), np.concatenate(indices), np.asarray(indptr)),
        shape=(len(texts), N_FEATURES),
    )
