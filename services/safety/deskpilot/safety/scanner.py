"""ScanContent's logic: text or screenshot in, score, level and spans out."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from deskpilot.safety.ocr import ScreenReader, Word, words_to_text
from deskpilot.safety.policy import Policy
from deskpilot.safety.screen_cache import DecodedScreens, digest_of
from deskpilot.safety.taint import TaintStore
from deskpilot.safety.text_scan import TextScanner

MAX_TEXT_CHARS = 2_000_000


@dataclass(frozen=True)
class SpanResult:
    """A suspicious stretch; `box` is (x0, y0, x1, y1) for images."""

    start: int
    end: int
    text: str
    score: float
    box: tuple[int, int, int, int] | None = None


@dataclass(frozen=True)
class ScanResult:
    """What ScanContent answers."""

    score: float
    level: str  # "none" | "taint" | "confirm"
    spans: tuple[SpanResult, ...]
    text: str = ""

    @property
    def injection(self) -> bool:
        """Whether the content is a likely injection."""
        return self.level != "none"


@dataclass(frozen=True)
class _ScreenScore:
    """A session's last screenshot scan, before the policy's thresholds are applied."""

    digest: bytes
    score: float
    spans: tuple[SpanResult, ...]
    text: str


class ContentScanner:
    """Scores text and screenshots; taints sessions whose content is flagged."""

    def __init__(
        self,
        text: TextScanner,
        screen: ScreenReader | None,
        taint: TaintStore,
        screens: DecodedScreens | None = None,
        max_sessions: int = 1000,
    ) -> None:
        self.text = text
        self.screen = screen
        self.taint = taint
        self.screens = screens or DecodedScreens()
        self._last: OrderedDict[str, _ScreenScore] = OrderedDict()
        self._lock = threading.Lock()
        self._max_sessions = max_sessions

    def scan_text(
        self, text: str, policy: Policy, session_id: str = "", source: str = "text"
    ) -> ScanResult:
        """Score text; raises ValueError when it is too long."""
        if len(text) > MAX_TEXT_CHARS:
            raise ValueError(f"text is {len(text)} characters; the limit is {MAX_TEXT_CHARS}")
        scored = self.text.scan(text)
        spans = tuple(
            SpanResult(s.start, s.end, text[s.start : s.end], s.score) for s in scored.spans
        )
        return self._finish(scored.score, spans, policy, session_id, source, "")

    def scan_image(self, data: bytes, policy: Policy, session_id: str = "") -> ScanResult:
        """OCR a screenshot (changed tiles only) and score its text."""
        if self.screen is None:
            raise RuntimeError("OCR is not available in this gate")
        digest = digest_of(data)
        last = self._last_screen(session_id)
        if last is None or last.digest != digest:
            last = self._read_screen(data, digest, session_id)
        return self._remember(last, policy, session_id)

    def unchanged_screen(self, data: bytes, policy: Policy, session_id: str) -> ScanResult | None:
        """The result for a screenshot byte-identical to the session's last one, without
        reading it again (a click on empty space, a wait); None for any other. Cheap
        enough to run on the caller's thread."""
        last = self._last_screen(session_id)
        if last is None or last.digest != digest_of(data):
            return None
        return self._remember(last, policy, session_id)

    def _last_screen(self, session_id: str) -> _ScreenScore | None:
        if not session_id:
            return None
        with self._lock:
            return self._last.get(session_id)

    def _remember(self, last: _ScreenScore, policy: Policy, session_id: str) -> ScanResult:
        if session_id:
            with self._lock:
                self._last[session_id] = last
                self._last.move_to_end(session_id)
                while len(self._last) > self._max_sessions:
                    self._last.popitem(last=False)
        return self._finish(last.score, last.spans, policy, session_id, "a screenshot", last.text)

    def _read_screen(self, data: bytes, digest: bytes, session_id: str) -> _ScreenScore:
        assert self.screen is not None
        words = self.screen.read(self.screens.decode(data), session_id)
        text, positions = words_to_text(words)
        scored = self.text.scan(text)
        spans = tuple(
            SpanResult(
                s.start, s.end, text[s.start : s.end], s.score, _box(positions, s.start, s.end)
            )
            for s in scored.spans
        )
        return _ScreenScore(digest, scored.score, spans, text)

    def _finish(
        self,
        score: float,
        spans: tuple[SpanResult, ...],
        policy: Policy,
        session_id: str,
        source: str,
        text: str,
    ) -> ScanResult:
        level = "none"
        if score >= policy.confirm_threshold:
            level = "confirm"
        elif score >= policy.taint_threshold:
            level = "taint"
        if level != "none":
            # The judge reads every flagged stretch, strongest first, before later
            # consequential actions of the session.
            excerpt = "\n…\n".join(span.text for span in spans) or text
            self.taint.mark(session_id, score, source, excerpt)
        return ScanResult(score, level, spans, text)


def _box(
    positions: list[tuple[int, int, Word]], start: int, end: int
) -> tuple[int, int, int, int] | None:
    words = [w for s, e, w in positions if s < end and e > start]
    if not words:
        return None
    return (
        min(w.x0 for w in words),
        min(w.y0 for w in words),
        max(w.x1 for w in words),
        max(w.y1 for w in words),
    )
