"""Hashed features of text, in numpy alone (training and serving share this code).

Character 4-7-grams come from a vectorised polynomial hash over the UTF-8 bytes; words
and word pairs from CRC-32. Features are binary and L2-normalised per window. (3-grams
were dropped: on a validation split of the training data they mostly carried generic
prose, "you", "the", and made programming help and e-mails on screenshots look injected.)
"""

from __future__ import annotations

import itertools
import re
import zlib

import numpy as np

N_FEATURES = 1 << 18
NGRAMS = (4, 5, 6, 7)
_MIX = np.uint64(0x9E3779B97F4A7C15)
_BASE = np.uint64(1_000_003)
_WORD_RE = re.compile(r"[a-z0-9']+")


def feature_indices(text: str, n_features: int = N_FEATURES) -> np.ndarray:
    """Sorted unique feature indices present in (already normalised) `text`."""
    raw = np.frombuffer(f" {text} ".encode(), dtype=np.uint8).astype(np.uint64)
    parts = []
    # h[i] is the polynomial hash of raw[i : i + n]; each longer n extends the shorter one.
    h = np.zeros(raw.size, dtype=np.uint64)
    for n in range(1, NGRAMS[-1] + 1):
        if raw.size < n:
            break
        h = h[: raw.size - n + 1] * _BASE + raw[n - 1 :]
        if n in NGRAMS:
            parts.append((h ^ np.uint64(n)) * _MIX >> np.uint64(40))
    words = _WORD_RE.findall(text)
    hashed = [zlib.crc32(w.encode()) for w in words]
    hashed += [zlib.crc32(f"{a} {b}".encode()) for a, b in itertools.pairwise(words)]
    if hashed:
        parts.append(np.asarray(hashed, dtype=np.uint64) * _MIX >> np.uint64(40))
    if not parts:
        return np.zeros(0, dtype=np.int64)
    joined = (np.concatenate(parts) % np.uint64(n_features)).astype(np.int64)
    joined.sort()
    # Sorted de-duplication: faster than np.unique for the few thousand ids of a window.
    return joined[np.concatenate(([True], joined[1:] != joined[:-1]))]


class LinearModel:
    """Logistic regression over hashed features, loaded from a .npz (no pickle)."""

    def __init__(self, weights: np.ndarray, bias: float, rule_weight: float = 0.75) -> None:
        self.weights = weights.astype(np.float32)
        self.bias = float(bias)
        self.rule_weight = rule_weight  # how the scanner combines the rules with it

    @classmethod
    def load(cls, path: str) -> LinearModel:
        """Read weights saved by the training script."""
        with np.load(path, allow_pickle=False) as data:
            rule_weight = float(data["rule_weight"][0]) if "rule_weight" in data else 0.75
            return cls(data["weights"], float(data["bias"][0]), rule_weight)

    def save(self, path: str) -> None:
        np.savez_compressed(
            path,
            weights=self.weights.astype(np.float16),
            bias=np.asarray([self.bias], dtype=np.float32),
            rule_weight=np.asarray([self.rule_weight], dtype=np.float32),
        )

    def score(self, text: str) -> float:
        """Probability that `text` (normalised) is a prompt injection."""
        indices = feature_indices(text, self.weights.size)
        if indices.size == 0:
            return 0.0
        logit = self.bias + float(self.weights[indices].sum()) / np.sqrt(indices.size)
        return float(1.0 / (1.0 + np.exp(-logit)))
