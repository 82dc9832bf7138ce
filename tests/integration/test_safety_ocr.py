"""OCR with a loaded tesseract: changed-tile cache per session, labels under a point."""

from __future__ import annotations

from typing import Any

from PIL import Image, ImageDraw, ImageFont

from deskpilot.safety.ocr import OcrEngine, ScreenReader, Word, label_at, words_to_text


class CountingEngine:
    """The real engine, counting how often it is asked to read."""

    def __init__(self, engine: OcrEngine) -> None:
        self.engine = engine
        self.calls = 0

    def words(self, *args: Any, **kwargs: Any) -> list[Word]:
        self.calls += 1
        return self.engine.words(*args, **kwargs)


def page(extra: str = "") -> Image.Image:
    image = Image.new("RGB", (1280, 800), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=18)
    draw.text((60, 60), "Quarterly garden report", fill="black", font=font)
    draw.text((60, 400), "Tomatoes grew well this year", fill="black", font=font)
    if extra:
        draw.text((900, 700), extra, fill="black", font=font)
    return image


def text_of(words: list[Word]) -> str:
    return words_to_text(words)[0]


def test_only_changed_tiles_are_read_again(ocr_engine: OcrEngine) -> None:
    engine = CountingEngine(ocr_engine)
    reader = ScreenReader(engine)  # type: ignore[arg-type]
    first = text_of(reader.read(page(), "s"))
    assert "garden report" in first and "Tomatoes" in first
    calls = engine.calls
    assert text_of(reader.read(page(), "s")) == first
    assert engine.calls == calls  # nothing changed: nothing read
    changed = text_of(reader.read(page("Pumpkins"), "s"))
    assert engine.calls > calls
    assert "Pumpkins" in changed
    assert "garden report" in changed and "Tomatoes" in changed  # kept from the cache
    other = CountingEngine(ocr_engine)
    ScreenReader(other).read(page(), "t")  # type: ignore[arg-type]
    assert other.calls >= 1  # sessions do not share caches


def test_label_at_picks_the_words_under_the_point() -> None:
    words = [
        Word("Cancel", 100, 10, 150, 25),
        Word("Place", 300, 10, 340, 25),
        Word("order", 345, 10, 385, 25),
        Word("Terms", 300, 200, 340, 215),
    ]
    assert label_at(words, 320, 18) == "Place order"
    assert label_at(words, 120, 18) == "Cancel"
    assert label_at(words, 700, 500) == ""
