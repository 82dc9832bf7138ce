"""Scoring text for prompt injection: normalised, in overlapping windows, rules + model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from deskpilot.safety.features import LinearModel
from deskpilot.safety.injection_rules import rule_score
from deskpilot.safety.normalize import decode_base64_blobs, normalise

MODEL_FILE = Path(__file__).with_name("data") / "injection_model.npz"
WINDOW_CHARS = 400
STRONG_FLOOR = 0.65
STRIDE_CHARS = 200


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


class TextScanner:
    """Scores text with the trained model and the rules."""

    def __init__(self, model: LinearModel | None = None) -> None:
        self.model = model or LinearModel.load(str(MODEL_FILE))

    def score_window(self, raw: str) -> tuple[float, tuple[str, ...]]:
        """Score of one window of raw text; text hidden in base64 is scored on its own too."""
        best: tuple[float, tuple[str, ...]] = self._score_normalised(normalise(raw))
        for decoded in decode_base64_blobs(raw):
            best = max(best, self._score_normalised(normalise(decoded)))
        return best

    def _score_normalised(self, text: str) -> tuple[float, tuple[str, ...]]:
        if not text:
            return 0.0, ()
        model = self.model.score(text)
        rules, strong, names = rule_score(text)
        # Weak rules only sharpen the model (benign text says "ignore" too); strong ones
        # (ignore previous instructions, hide it from the user, a note to the AI) flag alone.
        combined = 1.0 - (1.0 - model) * (1.0 - 0.75 * rules)
        if model < 0.15:
            combined = min(combined, 0.45)
        return max(combined, STRONG_FLOOR * strong), tuple(names)

    def scan(self, text: str, floor: float = 0.3) -> TextScore:
        """Score every window of `text`; spans at or above `floor`, highest first."""
        spans = []
        best = 0.0
        for start, end in windows(text):
            score, names = self.score_window(text[start:end])
            best = max(best, score)
            if score >= floor:
                spans.append(ScoredSpan(start, end, score, names))
        spans.sort(key=lambda s: -s.score)
        return TextScore(best, tuple(_merge(spans)))


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
