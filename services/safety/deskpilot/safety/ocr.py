"""Reading screenshots: a per-session changed-tile cache, passes for dark panels and faint
low-contrast text, a second language pass for lines English cannot read, and reading the
label under a click point. The engines themselves are in ocr_engine.py."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps

from deskpilot.safety.language_pass import LanguagePass
from deskpilot.safety.ocr_engine import MIN_CONFIDENCE, OcrEngine, Word, confident
from deskpilot.safety.tessdata import find_tessdata

__all__ = [
    "MIN_CONFIDENCE",
    "OcrEngine",
    "ScreenReader",
    "Word",
    "find_tessdata",
    "label_at",
    "read_label",
    "reading_lines",
    "words_to_text",
]

TILE = 160


# A crop around the click point whose gray levels span less than this holds no text a
# person could read, so OCR is skipped (an empty desktop, a blank panel).
_BLANK_RANGE = 4


def read_label(engine: OcrEngine, image: Image.Image, x: int, y: int) -> str:
    """The words under a click point: the nearest word and its neighbours on the line."""
    if not (0 <= x < image.width and 0 <= y < image.height):
        return ""
    box = (max(0, x - 130), max(0, y - 30), min(image.width, x + 130), min(image.height, y + 30))
    crop = ImageOps.grayscale(image.crop(box))
    low, high = crop.getextrema()
    if high - low < _BLANK_RANGE:
        return ""
    point = (x - box[0], y - box[1])
    button = _button_box(crop, point)
    if button is not None:
        # Inside a button: text is whatever differs from the button's colour, so white on
        # blue and black on grey both become black on white.
        crop = crop.crop(button)
        box = (box[0] + button[0], box[1] + button[1], box[0] + button[2], box[1] + button[3])
        centre = _mode(crop)
        crop = crop.point(lambda v: 0 if abs(v - centre) > 40 else 255)
        crop = ImageOps.expand(crop, border=10, fill=255)
        box = (box[0] - 10, box[1] - 10, box[2] + 10, box[3] + 10)
    elif _is_dark_background(crop, crop.getpixel(point)):
        crop = ImageOps.invert(crop)
    crop = ImageOps.autocontrast(crop).resize((crop.width * 2, crop.height * 2), Image.LANCZOS)
    words = engine.words(crop, offset=(box[0], box[1]), scale=2.0)
    return label_at(words, x, y)


def label_at(words: list[Word], x: int, y: int) -> str:
    """The label containing (x, y): nearest word, extended along its line by small gaps."""
    if not words:
        return ""

    def distance(w: Word) -> float:
        dx = max(w.x0 - x, 0, x - w.x1)
        dy = max(w.y0 - y, 0, y - w.y1)
        return (dx * dx + dy * dy) ** 0.5

    nearest = min(words, key=distance)
    if distance(nearest) > 40:
        return ""
    height = max(nearest.y1 - nearest.y0, 8)
    line = sorted(
        (w for w in words if min(w.y1, nearest.y1) - max(w.y0, nearest.y0) > height / 3),
        key=lambda w: w.x0,
    )
    index = line.index(nearest)
    left = right = index
    while left > 0 and line[left].x0 - line[left - 1].x1 < height:
        left -= 1
    while right < len(line) - 1 and line[right + 1].x0 - line[right].x1 < height:
        right += 1
    return " ".join(w.text for w in line[left : right + 1])


def _mode(image: Image.Image) -> int:
    histogram = image.histogram()
    return max(range(256), key=histogram.__getitem__)


def _button_box(crop: Image.Image, point: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """Bounds of the flat-coloured area around `point` when it is button-sized."""
    point = _background_seed(crop, point)
    filled = crop.copy()
    # Flood the area of the click point's colour; letters inside stop it, so widen by
    # the extent of what was reached.
    ImageDraw.floodfill(filled, point, 1 if crop.getpixel(point) != 1 else 2, thresh=24)
    mask = filled.point(lambda v: 255 if v in (1, 2) else 0)
    bounds = mask.getbbox()
    if bounds is None:
        return None
    width, height = bounds[2] - bounds[0], bounds[3] - bounds[1]
    full = width >= crop.width - 2 and height >= crop.height - 2
    if full or width < 20 or height < 12:
        return None
    return bounds


def _background_seed(crop: Image.Image, point: tuple[int, int]) -> tuple[int, int]:
    """The pixel nearest `point` having the commonest value around it (the click may land
    on a letter rather than on the button's background)."""
    x0, y0 = max(0, point[0] - 8), max(0, point[1] - 8)
    window = crop.crop((x0, y0, min(crop.width, point[0] + 9), min(crop.height, point[1] + 9)))
    histogram = window.histogram()
    mode = max(range(256), key=histogram.__getitem__)
    best, best_distance = point, None
    for yy in range(window.height):
        for xx in range(window.width):
            if window.getpixel((xx, yy)) == mode:
                distance = abs(x0 + xx - point[0]) + abs(y0 + yy - point[1])
                if best_distance is None or distance < best_distance:
                    best, best_distance = (x0 + xx, y0 + yy), distance
    return best


def _is_dark_background(crop: Image.Image, centre: int) -> bool:
    histogram = crop.histogram()
    dark = sum(histogram[:128])
    return dark > sum(histogram[128:]) or centre < 110


@dataclass
class _SessionTiles:
    hashes: dict[tuple[int, int], bytes]
    words: list[Word]
    size: tuple[int, int]


class ScreenReader:
    """Reads screenshots, re-reading only tiles changed since the session's last one."""

    def __init__(
        self, engine: OcrEngine, max_sessions: int = 1000, languages: LanguagePass | None = None
    ) -> None:
        self.engine = engine
        self.languages = languages  # lines English cannot read are read again; None: never
        self.language_reads = 0  # lines read again by the language pass, for tests/metrics
        self._sessions: OrderedDict[str, _SessionTiles] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_sessions

    def read(self, image: Image.Image, session_id: str = "") -> list[Word]:
        """Words on the screen, in reading order. OCR reads grayscale, so tiles are
        compared in grayscale too."""
        gray = ImageOps.grayscale(image) if image.mode != "L" else image
        hashes = _tile_hashes(gray)
        with self._lock:
            previous = self._sessions.get(session_id) if session_id else None
        if previous is None or previous.size != image.size:
            changed = set(hashes)
            kept: list[Word] = []
        else:
            changed = {t for t, h in hashes.items() if previous.hashes.get(t) != h}
            kept = [w for w in previous.words if _tile_of(w) not in changed]
        fresh: list[Word] = []
        if changed:
            # One read per cluster of changed tiles: a clock and a toast in opposite
            # corners do not make the whole screen read again.
            for cluster in _clusters(changed):
                x0, y0, x1, y1 = _bounds(cluster, image.size)
                fresh += [
                    w
                    for w in self._region_words(gray.crop((x0, y0, x1, y1)), (x0, y0))
                    if _tile_of(w) in cluster
                ]
            fresh += self._faint_words(gray, changed)
        words = [w for line in reading_lines(kept + fresh) for w in line]
        if session_id:
            with self._lock:
                self._sessions[session_id] = _SessionTiles(hashes, words, gray.size)
                self._sessions.move_to_end(session_id)
                while len(self._sessions) > self._max:
                    self._sessions.popitem(last=False)
        return words

    def _words(
        self,
        image: Image.Image,
        offset: tuple[int, int] = (0, 0),
        scale: float = 1.0,
        panels: list[tuple[int, int, int, int]] = (),
    ) -> list[Word]:
        """The English pass, then the language pass over the lines it could not read.
        Words centred in `panels` (boxes in the output's pixels) are left out: those are
        read again inverted, and their first reading is noise for the language pass."""
        if self.languages is None:
            words = self.engine.words(image, offset=offset, scale=scale)
            return [w for w in words if not any(_centre_in(w, *box) for box in panels)]
        lines = [
            [r for r in line if not any(_centre_in(r.word, *box) for box in panels)]
            for line in self.engine.lines(image, offset=offset, scale=scale)
        ]
        lines, reads = self.languages.improve(image, [ln for ln in lines if ln], offset, scale)
        if reads:
            with self._lock:
                self.language_reads += reads
        return confident(lines)

    def _region_words(self, region: Image.Image, offset: tuple[int, int]) -> list[Word]:
        """Words of a grayscale region; light text on dark panels (banners, coloured
        buttons, dark themes) is read again inverted and replaces the first reading."""
        dark = _dark_mask(region)
        if dark.mean() > 0.5:  # a dark theme: read it all inverted
            region, dark = ImageOps.invert(region), ~dark
        boxes = _dark_boxes(dark)
        panels = [(offset[0] + x0, offset[1] + y0, offset[0] + x1, offset[1] + y1)
                  for x0, y0, x1, y1 in boxes]  # fmt: skip
        words = self._words(region, offset=offset, panels=panels)
        for bx0, by0, bx1, by1 in boxes:
            panel = ImageOps.autocontrast(ImageOps.invert(region.crop((bx0, by0, bx1, by1))))
            panel = ImageOps.expand(panel, border=8, fill=255)
            words += self._words(panel, offset=(offset[0] + bx0 - 8, offset[1] + by0 - 8))
        return words

    def _faint_words(self, gray: Image.Image, changed: set[tuple[int, int]]) -> list[Word]:
        """Text barely darker than its background, invisible to a normal pass: faint tiles
        are contrast-stretched onto a white canvas and read together in one pass, so words
        crossing tile edges stay whole."""
        canvas = Image.new("L", gray.size, 255)
        faint: set[tuple[int, int]] = set()
        for tx, ty in changed:
            box = (
                tx * TILE,
                ty * TILE,
                min(gray.width, (tx + 1) * TILE),
                min(gray.height, (ty + 1) * TILE),
            )
            tile = gray.crop(box)
            low, high = tile.getextrema()
            if 0 < high - low <= 48 and _looks_like_text(tile):
                stretched = ImageOps.autocontrast(tile)
                if _is_dark_background(stretched, 255):
                    stretched = ImageOps.invert(stretched)
                canvas.paste(stretched, box[:2])
                faint.add((tx, ty))
        out: list[Word] = []
        for cluster in _clusters(faint):
            x0, y0, x1, y1 = _bounds(cluster, gray.size)
            region = canvas.crop((x0, y0, x1, y1))
            region = region.resize((region.width * 2, region.height * 2), Image.LANCZOS)
            out += self._words(region, offset=(x0, y0), scale=2.0)
        return out


def reading_lines(words: list[Word]) -> list[list[Word]]:
    """Words grouped into lines (vertical centres within half a line height), top to
    bottom, each line left to right."""
    lines: list[list[Word]] = []
    for word in sorted(words, key=lambda w: (w.y0 + w.y1) / 2):
        centre = (word.y0 + word.y1) / 2
        if lines:
            first = lines[-1][0]
            if abs(centre - (first.y0 + first.y1) / 2) <= max(first.y1 - first.y0, 8) / 2:
                lines[-1].append(word)
                continue
        lines.append([word])
    return [sorted(line, key=lambda w: w.x0) for line in lines]


def words_to_text(words: list[Word]) -> tuple[str, list[tuple[int, int, Word]]]:
    """Join words into lines; returns the text and each word's character span. Chinese and
    Japanese are written without spaces, so tesseract's words of those scripts are joined
    without one ("忽略 之 前" would hide 忽略之前 from the detector)."""
    parts: list[str] = []
    spans: list[tuple[int, int, Word]] = []
    position = 0
    for line in reading_lines(words):
        if parts:
            parts.append("\n")
            position += 1
        for index, word in enumerate(line):
            if index and not (_unspaced(line[index - 1].text[-1]) and _unspaced(word.text[0])):
                parts.append(" ")
                position += 1
            spans.append((position, position + len(word.text), word))
            parts.append(word.text)
            position += len(word.text)
    return "".join(parts), spans


def _unspaced(char: str) -> bool:
    """A character of a script written without spaces between words: CJK punctuation,
    kana, CJK ideographs, full-width forms (Korean's Hangul has spaces)."""
    code = ord(char)
    return (
        0x3000 <= code <= 0x30FF or 0x3400 <= code <= 0x4DBF or 0x4E00 <= code <= 0x9FFF
        or 0xF900 <= code <= 0xFAFF or 0xFF00 <= code <= 0xFF60
    )  # fmt: skip


def _tile_hashes(gray: Image.Image) -> dict[tuple[int, int], bytes]:
    pixels = np.asarray(gray)
    out = {}
    for ty in range((gray.height + TILE - 1) // TILE):
        rows = pixels[ty * TILE : (ty + 1) * TILE]
        for tx in range((gray.width + TILE - 1) // TILE):
            tile = rows[:, tx * TILE : (tx + 1) * TILE]
            out[(tx, ty)] = hashlib.blake2b(tile.tobytes(), digest_size=16).digest()
    return out


def _tile_of(word: Word) -> tuple[int, int]:
    return ((word.x0 + word.x1) // 2 // TILE, (word.y0 + word.y1) // 2 // TILE)


_CELL = 8


def _dark_mask(gray: Image.Image) -> np.ndarray:
    """Per 8x8 cell: is the local background dark (light text would sit on it)?"""
    small = gray.reduce(_CELL) if min(gray.size) >= _CELL else gray
    return np.asarray(small.filter(ImageFilter.MedianFilter(3)), dtype=np.uint8) < 110


def _dark_boxes(mask: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Pixel boxes of connected dark panels big enough to hold a word."""
    cells = {(int(x), int(y)) for y, x in zip(*np.nonzero(mask), strict=True)}
    boxes = []
    for cluster in _clusters(cells) if len(cells) < 20_000 else []:
        xs = [c[0] for c in cluster]
        ys = [c[1] for c in cluster]
        width, height = (max(xs) - min(xs) + 1) * _CELL, (max(ys) - min(ys) + 1) * _CELL
        if width >= 40 and height >= 16 and len(cluster) >= 8:
            boxes.append((min(xs) * _CELL, min(ys) * _CELL,
                          (max(xs) + 1) * _CELL, (max(ys) + 1) * _CELL))  # fmt: skip
    return boxes


def _centre_in(word: Word, x0: int, y0: int, x1: int, y1: int) -> bool:
    cx, cy = (word.x0 + word.x1) / 2, (word.y0 + word.y1) / 2
    return x0 <= cx < x1 and y0 <= cy < y1


def _looks_like_text(tile: Image.Image) -> bool:
    """Rows crossing many thin strokes: glyphs, not a panel edge or a gradient. Strokes
    are what stands out from a 5x5 median, so a tile split by a panel edge still counts."""
    pixels = np.asarray(tile, dtype=np.int16)
    background = np.asarray(tile.filter(ImageFilter.MedianFilter(5)), dtype=np.int16)
    ink = np.abs(pixels - background) >= 3
    crossings = (ink[:, 1:] != ink[:, :-1]).sum(axis=1)
    return int((crossings >= 6).sum()) >= 4


def _clusters(tiles: set[tuple[int, int]]) -> list[set[tuple[int, int]]]:
    """Groups of tiles touching each other (diagonals included)."""
    remaining = set(tiles)
    out = []
    while remaining:
        stack = [remaining.pop()]
        cluster = set(stack)
        while stack:
            tx, ty = stack.pop()
            for dx in (-1, 0, 1):
                for dy in (-1, 0, 1):
                    neighbour = (tx + dx, ty + dy)
                    if neighbour in remaining:
                        remaining.discard(neighbour)
                        cluster.add(neighbour)
                        stack.append(neighbour)
        out.append(cluster)
    return out


def _bounds(tiles: set[tuple[int, int]], size: tuple[int, int]) -> tuple[int, int, int, int]:
    margin = 24  # words straddling a tile edge are read whole
    x0 = max(0, min(t[0] for t in tiles) * TILE - margin)
    y0 = max(0, min(t[1] for t in tiles) * TILE - margin)
    x1 = min(size[0], (max(t[0] for t in tiles) + 1) * TILE + margin)
    y1 = min(size[1], (max(t[1] for t in tiles) + 1) * TILE + margin)
    return x0, y0, x1, y1
