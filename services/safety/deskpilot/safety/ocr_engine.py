"""Loaded tesseract engines (tesserocr) and the words they read, line by line with each
word's confidence (the second language pass decides from those)."""

from __future__ import annotations

import os

os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # one core per engine; must precede the import

import queue
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import tesserocr
from PIL import Image

from deskpilot.safety.tessdata import find_tessdata, require

MIN_CONFIDENCE = 30.0


@dataclass(frozen=True)
class Word:
    """A word read by OCR, its box in image pixels, and the language that read it."""

    text: str
    x0: int
    y0: int
    x1: int
    y1: int
    lang: str = "eng"


@dataclass(frozen=True)
class Reading:
    """A word as tesseract gave it, confidence included (even under MIN_CONFIDENCE)."""

    word: Word
    confidence: float


Line = list[Reading]


class OcrEngine:
    """A small pool of loaded tesseract engines (one per worker thread)."""

    def __init__(self, workers: int = 1, lang: str = "eng", tessdata: str = "") -> None:
        self.lang = lang
        path = tessdata or find_tessdata()
        require(lang.split("+"), path)  # one clear line instead of "Failed to init API"
        self._pool: queue.Queue[tesserocr.PyTessBaseAPI] = queue.Queue()
        for _ in range(max(1, workers)):
            api = tesserocr.PyTessBaseAPI(path=path, lang=lang, psm=tesserocr.PSM.SPARSE_TEXT)
            self._pool.put(api)
        self._all = list(self._pool.queue)

    @contextmanager
    def _engine(self) -> Iterator[tesserocr.PyTessBaseAPI]:
        api = self._pool.get()
        try:
            yield api
        finally:
            self._pool.put(api)

    def lines(
        self, image: Image.Image, offset: tuple[int, int] = (0, 0), scale: float = 1.0
    ) -> list[Line]:
        """Every word tesseract found in `image`, grouped by its text lines; boxes mapped
        back by `scale` and shifted by `offset`."""
        out: list[Line] = []
        with self._engine() as api:
            api.SetImage(image)
            api.Recognize()
            iterator = api.GetIterator()
            level = tesserocr.RIL.WORD
            # tesseract gives no iterator when it found no layout at all (a 1-pixel-wide
            # strip, a blank image): there are no words.
            for item in tesserocr.iterate_level(iterator, level) if iterator else ():
                if not out or item.IsAtBeginningOf(tesserocr.RIL.TEXTLINE):
                    out.append([])
                try:
                    text = item.GetUTF8Text(level)
                except RuntimeError:  # an empty result raises instead of returning ""
                    continue
                box = item.BoundingBox(level)
                if not text or not text.strip() or box is None:
                    continue
                x0, y0, x1, y1 = (int(v / scale) for v in box)
                word = Word(
                    text.strip(),
                    x0 + offset[0],
                    y0 + offset[1],
                    x1 + offset[0],
                    y1 + offset[1],
                    item.WordRecognitionLanguage() or self.lang,
                )
                out[-1].append(Reading(word, item.Confidence(level)))
            api.Clear()
        return [line for line in out if line]

    def words(
        self, image: Image.Image, offset: tuple[int, int] = (0, 0), scale: float = 1.0
    ) -> list[Word]:
        """Words in `image` read with at least MIN_CONFIDENCE."""
        return confident(self.lines(image, offset, scale))

    def close(self) -> None:
        """Release the engines."""
        for api in self._all:
            api.End()


def confident(lines: list[Line]) -> list[Word]:
    """The words of `lines` read with at least MIN_CONFIDENCE."""
    return [r.word for line in lines for r in line if r.confidence >= MIN_CONFIDENCE]
