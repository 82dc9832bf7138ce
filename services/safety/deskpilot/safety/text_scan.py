"""Scoring text for prompt injection: normalised, in overlapping windows, in two stages.

Stage one, every window: the fast n-gram model sharpened by the rules. Stage two, only
windows in another language (`multilingual.other_language`), at most `max_windows` per
scan, the highest-scored first: the multilingual head's probability replaces the fast
model's (or, if fitting found it better, raises it). A strong rule keeps its floor.
English text never reaches stage two, so its cost is the fast model's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deskpilot.safety.features import LinearModel
from deskpilot.safety.injection_rules import rule_score
from deskpilot.safety.multilingual import HEAD_FILE, Embedder, MultilingualHead, other_language
from deskpilot.safety.normalize import decode_base64_blobs, normalise

MODEL_FILE = Path(__file__).with_name("data") / "injection_model.npz"
WINDOW_CHARS = 400
STRONG_FLOOR = 0.65
STRIDE_CHARS = 200
MIN_WORDS = 4  # fewer: the model alone cannot flag the window
# Windows embedded per scan at most (~100 ms each): bounds a page in another language.
MAX_WINDOWS = 4


@dataclass(frozen=True)
class ScoredSpan:
    """A window of the original text and its score."""

    start: int
    end: int
    score: float
    rules: tuple[str, ...]


@dataclass(frozen=True)
class TextScore:
    """The highest window score and the windows above the reporting floor."""

    score: float
    spans: tuple[ScoredSpan, ...]


@dataclass(frozen=True)
class WindowScore:
    """Stage one's verdict on a window: score, rule names, whether a strong rule fired."""

    score: float
    rules: tuple[str, ...]
    strong: bool


class SecondStage:
    """The multilingual head over embeddings of other-language windows."""

    def __init__(
        self,
        head: MultilingualHead,
        embed: Callable[[list[str]], np.ndarray],
        max_windows: int = MAX_WINDOWS,
    ) -> None:
        self.head = head
        self.embed = embed
        self.max_windows = max_windows

    @classmethod
    def load(cls, threads: int = 1, max_windows: int = MAX_WINDOWS) -> SecondStage:
        """The shipped head and the e5 model, loaded now: a service that cannot load them
        fails at start, not in the middle of a scan."""
        return cls(MultilingualHead.load(HEAD_FILE), Embedder(threads).embed, max_windows)

    def probabilities(self, texts: list[str]) -> np.ndarray:
        return self.head.probabilities(self.embed(texts))


class TextScanner:
    """Scores text with the trained model and the rules, and the second stage if given."""

    def __init__(
        self,
        model: LinearModel | None = None,
        second: SecondStage | None = None,
        rule_weight: float | None = None,
    ) -> None:
        self.model = model or LinearModel.load(str(MODEL_FILE))
        self.second = second
        # How much the weak rules sharpen the model; fitted with it (detector_fit).
        self.rule_weight = self.model.rule_weight if rule_weight is None else rule_weight

    @classmethod
    def shipped(cls, second_stage: bool = True, threads: int = 1) -> TextScanner:
        """The committed model, with the committed second stage unless turned off."""
        return cls(second=SecondStage.load(threads) if second_stage else None)

    def score_window(self, raw: str) -> tuple[float, tuple[str, ...]]:
        """Stage one's score of one window of raw text (base64 inside scored on its own)."""
        window = self._fast(raw)
        return window.score, window.rules

    def _fast(self, raw: str) -> WindowScore:
        best = self._score_normalised(normalise(raw))
        for decoded in decode_base64_blobs(raw):
            other = self._score_normalised(normalise(decoded))
            best = other if other.score > best.score else best
        return best

    def _score_normalised(self, text: str) -> WindowScore:
        if not text:
            return WindowScore(0.0, (), False)
        model = self.model.score(text)
        rules, strong, names = rule_score(text)
        # Weak rules only sharpen the model (benign text says "ignore" too); strong ones
        # (ignore previous instructions, hide it from the user, a note to the AI) flag alone.
        combined = 1.0 - (1.0 - model) * (1.0 - self.rule_weight * rules)
        # A model over L2-normalised features gives a two-word text the full weight of its
        # few n-grams ("output" alone scored 0.73, so every silent command's "(no output)"
        # tainted its session): too short to instruct anyone, it flags by a strong rule only.
        if model < 0.15 or len(text.split()) < MIN_WORDS:
            combined = min(combined, 0.45)
        return WindowScore(max(combined, STRONG_FLOOR * strong), tuple(names), strong > 0)

    def scan(self, text: str, floor: float = 0.3) -> TextScore:
        """Score every window of `text`; spans at or above `floor`, highest first."""
        bounds = windows(text)
        scored = [self._fast(text[start:end]) for start, end in bounds]
        if self.second is not None:
            scored = self._second_opinion(text, bounds, scored)
        spans = [
            ScoredSpan(start, end, window.score, window.rules)
            for (start, end), window in zip(bounds, scored, strict=True)
            if window.score >= floor
        ]
        spans.sort(key=lambda s: -s.score)
        best = max((window.score for window in scored), default=0.0)
        return TextScore(best, tuple(_merge(spans)))

    def _second_opinion(
        self, text: str, bounds: list[tuple[int, int]], scored: list[WindowScore]
    ) -> list[WindowScore]:
        assert self.second is not None
        chosen = [i for i, (start, end) in enumerate(bounds) if other_language(text[start:end])]
        chosen.sort(key=lambda i: -scored[i].score)
        chosen = chosen[: self.second.max_windows]
        if not chosen:
            return scored
        probabilities = self.second.probabilities([text[slice(*bounds[i])] for i in chosen])
        out = list(scored)
        for i, probability in zip(chosen, probabilities, strict=True):
            floor = STRONG_FLOOR if scored[i].strong else 0.0
            if self.second.head.keep_fast:
                floor = max(floor, scored[i].score)
            out[i] = WindowScore(max(float(probability), floor), scored[i].rules, scored[i].strong)
        return out


def windows(text: str) -> list[tuple[int, int]]:
    """Overlapping windows aligned to word boundaries."""
    if len(text) <= WINDOW_CHARS:
        return [(0, len(text))] if text.strip() else []
    out = []
    start = 0
    while start < len(text):
        end = min(len(text), start + WINDOW_CHARS)
        if end < len(text):
            space = text.rfind(" ", start + WINDOW_CHARS // 2, end)
            end = space if space > 0 else end
        out.append((start, end))
        if end >= len(text):
            break
        nxt = start + STRIDE_CHARS
        space = text.find(" ", nxt, nxt + 40)
        start = space + 1 if space > 0 else nxt
    return out


def _merge(spans: list[ScoredSpan]) -> list[ScoredSpan]:
    """Drop spans overlapping a higher-scored one already kept."""
    kept: list[ScoredSpan] = []
    for span in spans:
        if all(span.end <= k.start or span.start >= k.end for k in kept):
            kept.append(span)
    return kept
