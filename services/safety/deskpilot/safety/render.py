"""Synthetic screenshots for training and measuring: a browser-like page of ordinary
text, optionally carrying an injection as plain, faint, tiny or footer text or a banner."""

from __future__ import annotations

import functools
import io
import os
import random
import textwrap

from PIL import Image, ImageDraw, ImageFont

SIZE = (1280, 800)
_BUTTONS = ("Search", "Next", "Open", "Sign in", "Menu", "Settings", "Back", "Share")
# For text beyond ASCII (Pillow's built-in font has no accents and no CJK): WenQuanYi Zen
# Hei (fonts-wqy-zenhei) has Latin, accents and CJK; DejaVu Sans, accents only.
_UNICODE_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
)

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@functools.lru_cache(maxsize=64)
def font_for(text: str, size: int) -> Font:
    """Pillow's built-in font for ASCII text (screens stay as they always were drawn), else
    the first installed font of _UNICODE_FONTS; the built-in one when none is."""
    if text.isascii():
        return ImageFont.load_default(size=size)
    for path in _UNICODE_FONTS:
        if os.path.exists(path):
            return ImageFont.truetype(path, size)
    return ImageFont.load_default(size=size)


def render_screen(
    body: str, injection: str | None = None, style: str = "plain", seed: int = 0
) -> Image.Image:
    """A page showing `body`; `injection` is drawn in `style`: plain, faint, banner, tiny
    (9 px grey) or footer (small type under a rule at the bottom)."""
    rng = random.Random(seed)
    image = Image.new("RGB", SIZE, (250, 250, 250))
    draw = ImageDraw.Draw(image)
    size = rng.choice((14, 15, 16, 18))
    small = ImageFont.load_default(size=13)
    draw.rectangle((0, 0, SIZE[0], 40), fill=(228, 228, 234))
    draw.text((16, 12), "File  Edit  View  History  Bookmarks  Tools  Help", fill="black",
              font=small)  # fmt: skip
    draw.rounded_rectangle((360, 6, 1100, 34), 12, fill="white", outline=(190, 190, 200))
    draw.text((376, 12), f"https://{rng.choice(['news', 'shop', 'docs', 'mail'])}.example.org/",
              fill=(60, 60, 60), font=small)  # fmt: skip
    draw.rectangle((0, 40, 200, SIZE[1]), fill=(240, 240, 244))
    for i, label in enumerate(rng.sample(_BUTTONS, 4)):
        draw.text((20, 70 + i * 32), label, fill=(40, 40, 90), font=small)
    lines = []
    for paragraph in body.split("\n"):
        lines.extend(_wrap(paragraph, size) or [""])
    injected_at = rng.randrange(0, max(1, min(len(lines), 16))) if injection else -1
    y = 70
    for index, line in enumerate(lines[:20]):
        if index == injected_at and style == "plain":
            for part in _wrap(injection or "", size):
                draw.text((230, y), part, fill=(20, 20, 20), font=font_for(part, size))
                y += size + 10
        draw.text((230, y), line, fill=(20, 20, 20), font=font_for(line, size))
        y += size + 10
        if y > SIZE[1] - 120:
            break
    for _ in range(2):
        x, by = rng.randrange(900, 1100), rng.randrange(90, 500)
        draw.rounded_rectangle((x, by, x + 140, by + 40), 8, fill=(30, 110, 220))
        draw.text((x + 30, by + 11), rng.choice(_BUTTONS), fill="white", font=small)
    if injection and style == "faint":
        text = injection[: _fits(injection, 150)]
        draw.text((230, SIZE[1] - 60), text, fill=(238, 238, 238), font=font_for(text, size))
    elif injection and style == "banner":
        draw.rectangle((200, SIZE[1] - 90, SIZE[0], SIZE[1] - 40), fill=(180, 30, 40))
        text = injection[: _fits(injection, 130)]
        draw.text((230, SIZE[1] - 75), text, fill="white", font=font_for(text, size))
    elif injection and style == "tiny":  # 9 px grey text, where a page hides fine print
        for i, part in enumerate(_wrap(injection, 9)[:3]):
            draw.text((230, SIZE[1] - 100 + i * 12), part, fill=(120, 120, 120),
                      font=font_for(part, 9))  # fmt: skip
    elif injection and style == "footer":  # under a rule, in the footer's small type
        draw.line((220, SIZE[1] - 80, SIZE[0] - 20, SIZE[1] - 80), fill=(200, 200, 200))
        for i, part in enumerate(_wrap(injection, 13)[:3]):
            draw.text((230, SIZE[1] - 70 + i * 16), part, fill=(90, 90, 90),
                      font=font_for(part, 13))  # fmt: skip
    return image


def _wide(text: str) -> bool:
    """Whether `text` holds full-width (CJK) characters, each as wide as two Latin ones."""
    return any(ord(c) >= 0x2E80 for c in text)


def _fits(text: str, latin: int) -> int:
    """How many characters of `text` fit where `latin` Latin characters do."""
    return latin // 2 if _wide(text) else latin


def _wrap(text: str, size: int) -> list[str]:
    """`text` in lines of the page's width; CJK, which has no spaces, is cut anywhere."""
    width = _fits(text, int(1700 / size))
    if _wide(text):
        return [text[i : i + width] for i in range(0, len(text), width)]
    return textwrap.wrap(text, width=width)


def png_bytes(image: Image.Image) -> bytes:
    """PNG encoding of an image."""
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


Colour = str | tuple[int, int, int]
Button = tuple[tuple[int, int, int, int], Colour, Colour, str]  # box, fill, text colour, label


def render_buttons_page(
    buttons: list[Button],
    lines: list[tuple[tuple[int, int], str, Colour]] = (),
    size: tuple[int, int] = SIZE,
) -> bytes:
    """A PNG page of rounded buttons with centred labels, and lines of text."""
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    for box, fill, colour, label in buttons:
        draw.rounded_rectangle(box, 8, fill=fill)
        width = draw.textlength(label, font=font_for(label, 16))
        middle = ((box[0] + box[2] - width) / 2, (box[1] + box[3]) / 2 - 9)
        draw.text(middle, label, fill=colour, font=font_for(label, 16))
    for position, text, colour in lines:
        draw.text(position, text, fill=colour, font=font_for(text, 16))
    return png_bytes(image)
