"""The second OCR pass: text lines the English pass could not read (another script, or a
Latin language's accented letters) are read again, alone, by an engine holding the other
languages' models. Combined tesseract languages cost about their sum, so only those lines
pay for them, and each line only for the languages of its script (one engine for the
Latin-script languages, one for the others): an English screen is read by English alone."""

from __future__ import annotations

import statistics

from PIL import Image

from deskpilot.safety.ocr_engine import MIN_CONFIDENCE, Line, OcrEngine, Reading, Word
from deskpilot.safety.tessdata import LATIN_LANGUAGES

# Under this an English word is a guess: Chinese read as English comes out as a few such
# "words" per line (`HFT`, `AMIR`), accented Latin words as one (`seffor`, `préiciidentes`).
DOUBT = 60.0


def doubt(line: Line) -> str:
    """Why the English reading of a line looks like another language: "script" when most
    of its words are guesses (at least two, or a wide one under MIN_CONFIDENCE, which the
    first pass drops), "accents" when a guess holds non-ASCII letters (eng's stand-ins for
    accented ones); "" when it looks English. A lone weak word (a URL, a number, an icon)
    is not enough: English screens have those."""
    weak = [r for r in line if r.confidence < DOUBT]
    if not weak:
        return ""
    if 2 * len(weak) >= len(line) and (len(weak) >= 2 or _lost_and_wide(weak[0])):
        return "script"
    if any(not c.isascii() and c.isalpha() for r in weak for c in r.word.text):
        return "accents"
    return ""


def _lost_and_wide(reading: Reading) -> bool:
    word = reading.word
    return reading.confidence < MIN_CONFIDENCE and word.x1 - word.x0 >= 1.5 * (word.y1 - word.y0)


def mean_confidence(line: Line) -> float:
    """The mean confidence of a line's words (0 for none)."""
    return sum(r.confidence for r in line) / len(line) if line else 0.0


class LanguagePass:
    """Re-reads doubtful lines with the engine of the languages their doubt points to."""

    def __init__(self, latin: OcrEngine | None = None, other: OcrEngine | None = None) -> None:
        if latin is None and other is None:
            raise ValueError("a language pass needs at least one engine")
        self.latin = latin
        self.other = other

    @classmethod
    def load(cls, languages: list[str], workers: int, tessdata: str) -> LanguagePass | None:
        """Engines for `languages` (their models must be installed), `workers` of each;
        None for no languages."""
        latin = [lang for lang in languages if lang in LATIN_LANGUAGES]
        other = [lang for lang in languages if lang not in LATIN_LANGUAGES]
        if not languages:
            return None
        return cls(
            OcrEngine(workers, "+".join(latin), tessdata) if latin else None,
            OcrEngine(workers, "+".join(other), tessdata) if other else None,
        )

    @property
    def languages(self) -> list[str]:
        """The languages read, Latin-script ones first."""
        engines = (self.latin, self.other)
        return [lang for engine in engines if engine for lang in engine.lang.split("+")]

    def improve(
        self, image: Image.Image, lines: list[Line], offset: tuple[int, int], scale: float
    ) -> tuple[list[Line], int]:
        """`lines` (read from `image`, mapped by `offset` and `scale`) with each doubtful
        line replaced by a second reading when that one is more confident; and how many
        second readings were made."""
        out: list[Line] = []
        reads = 0
        for line in lines:
            why = doubt(line)
            best = line
            # The script's engine first; the other one only when that did not help.
            first, second = (
                (self.latin, self.other) if why == "accents" else (self.other, self.latin)
            )
            for engine in (first, second) if why else ():
                if engine is None:
                    continue
                reads += 1
                # What the strip holds of other lines stays as English read it.
                others = [r.word for other in lines if other is not line for r in other]
                again = [
                    r
                    for r in _read_line(engine, image, line, offset, scale)
                    if not any(_centre_in(r.word, w) for w in others)
                ]
                if mean_confidence(again) > mean_confidence(best):
                    best = again
                    break
            out.append(best)
        return out, reads

    def close(self) -> None:
        """Release the engines."""
        for engine in (self.latin, self.other):
            if engine is not None:
                engine.close()


def _read_line(
    engine: OcrEngine, image: Image.Image, line: Line, offset: tuple[int, int], scale: float
) -> Line:
    """`line` read again by `engine` from a strip of `image` around it, in the image's
    pixels. The strip follows the line's typical box (a misread glyph's box can be twice
    as tall and reach into the next line), with room to the sides (the English boxes may
    miss glyphs at the ends; a glyph at a crop's edge is misread) and above and below."""
    top = statistics.median(r.word.y0 for r in line)
    bottom = statistics.median(r.word.y1 for r in line)
    height = max(1.0, bottom - top)
    pad_x, pad_y = 4 * height, max(6.0, height / 2)
    x0 = max(0, int((min(r.word.x0 for r in line) - offset[0] - pad_x) * scale))
    y0 = max(0, int((top - offset[1] - pad_y) * scale))
    x1 = min(image.width, int((max(r.word.x1 for r in line) - offset[0] + pad_x) * scale))
    y1 = min(image.height, int((bottom - offset[1] + pad_y) * scale))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return []
    origin = (offset[0] + round(x0 / scale), offset[1] + round(y0 / scale))
    lines = engine.lines(image.crop((x0, y0, x1, y1)), offset=origin, scale=scale)
    return [reading for found in lines for reading in found]


def _centre_in(word: Word, box: Word) -> bool:
    cx, cy = (word.x0 + word.x1) / 2, (word.y0 + word.y1) / 2
    return box.x0 <= cx < box.x1 and box.y0 <= cy < box.y1
