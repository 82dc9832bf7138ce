"""Settings of the display executor (`--flag` / `DESKPILOT_DISPLAY_*`)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from deskpilot.common.executor import ExecutorSettings


class DisplaySettings(ExecutorSettings):
    """The display & input executor."""

    service_name: ClassVar[str] = "display"

    display: str = Field(
        "", description="X display to drive, e.g. `:1`; empty uses $DISPLAY.", pattern=r"^$|^:\d+$"
    )
    scaled_width: int = Field(
        0, ge=0, le=8192, description="Width of the model's screenshots in AUTO mode; 0 picks "
        "the standard target (1024x768, 1280x800, 1366x768) matching the screen's aspect."
    )  # fmt: skip
    scaled_height: int = Field(
        0, ge=0, le=8192, description="Height of the model's screenshots in AUTO mode; 0 picks "
        "the standard target matching the screen's aspect."
    )  # fmt: skip
    settle_quiet_ms: int = Field(
        100, ge=1, le=10_000,
        description="The screen must stay unchanged this long after a change to count as settled.",
    )  # fmt: skip
    settle_first_change_ms: int = Field(
        40, ge=0, le=10_000,
        description="When nothing at all changes after the input, settle after this long.",
    )  # fmt: skip
    settle_typing_quiet_ms: int = Field(
        50, ge=1, le=10_000,
        description="The quiet period after `type` and `key` actions, whose echo applications "
        "draw at once, and after a change of at most settle_small_change_px on both sides "
        "(settle_quiet_ms applies to the others).",
    )  # fmt: skip
    settle_small_change_px: int = Field(
        32, ge=0, le=1024,
        description="A change at most this many pixels wide and high (a terminal redrawing "
        "its cursor, a ticked box) settles on settle_typing_quiet_ms; 0: every change "
        "waits settle_quiet_ms.",
    )  # fmt: skip
    settle_max_ms: int = Field(2500, ge=0, le=60_000, description="Upper bound on the settle wait.")
    settle_poll_ms: int = Field(
        10, ge=1, le=1000,
        description="Interval between the checks for a change while settling (a drawing "
        "report from X, or a capture compared where X has no DAMAGE).",
    )  # fmt: skip
    png_compress_level: int = Field(
        1, ge=0, le=3,
        description="Deflate level for PNG screenshots (ISA-L, 0: fastest, 3: smallest).",
    )  # fmt: skip
    scale_threads: int = Field(
        0, ge=0, le=16,
        description="Threads that scale a screenshot, in strips; 0: one per available CPU core.",
    )  # fmt: skip
    jpeg_quality: int = Field(80, ge=1, le=100, description="Default JPEG quality.")
    webp_quality: int = Field(80, ge=1, le=100, description="Default WebP quality.")
    max_text_chars: int = Field(
        20_000, ge=1, le=1_000_000, description="Longest text a type or key action may carry."
    )
    max_duration_seconds: float = Field(
        60.0, gt=0, le=3600, description="Longest wait or hold_key duration accepted."
    )
    max_scroll_amount: int = Field(
        100, ge=1, le=10_000, description="Most wheel clicks per scroll."
    )
    max_key_repeat: int = Field(100, ge=1, le=10_000, description="Largest key repeat count.")
    idempotency_cache_size: int = Field(
        256, ge=0, le=100_000, description="Results kept for repeated idempotency keys (LRU)."
    )
