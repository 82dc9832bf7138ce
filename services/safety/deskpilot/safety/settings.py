"""Settings of the safety service."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel, Field, field_validator

from deskpilot.common.security import SecuredServiceSettings
from deskpilot.safety.screen_cache import DEFAULT_MAX_PIXELS
from deskpilot.safety.tessdata import parse_languages


class JudgeSettings(BaseModel):
    """The `judge` group of the safety gate's settings."""

    enabled: bool = Field(False, description="Ask a Claude model about flagged content.")
    model: str = Field("claude-haiku-4-5", description="The judge's model.")
    base_url: str = Field(
        "", description="Messages API base URL; empty: the SDK's (Anthropic's API)."
    )
    api_key_file: Path | None = Field(
        None, description="File holding the API key; empty: $ANTHROPIC_API_KEY."
    )
    # Under the orchestrator's safety_timeout_seconds (5 s): a slow judge then fails closed
    # here, with its report, rather than as the caller's bare timeout.
    timeout_seconds: float = Field(
        4.0, gt=0, le=60, description="How long one answer may take; then it counts as a fail."
    )
    max_tokens: int = Field(256, ge=64, le=4096, description="Most tokens of one answer.")
    max_calls_per_session: int = Field(
        30, ge=1, le=10_000, description="Judge calls one session may make; then the local "
        "detectors' verdict stands.",
    )  # fmt: skip
    before_actions: bool = Field(
        True, description="Also ask it before a consequential action of a tainted session "
        "(one the rules want confirmed): steered or failed blocks it.",
    )  # fmt: skip
    input_usd_per_mtok: float = Field(1.0, ge=0, description="Price of input tokens (per M).")
    output_usd_per_mtok: float = Field(5.0, ge=0, description="Price of output tokens (per M).")


class SafetySettings(SecuredServiceSettings):
    """`--policy-file` / `DESKPILOT_SAFETY_POLICY_FILE` and friends."""

    service_name: ClassVar[str] = "safety"

    policy_file: Path | None = Field(
        None, description="Deployment policy YAML; empty uses the packaged default."
    )
    ocr_workers: int = Field(
        2, ge=1, le=32, description="Loaded tesseract engines (one per concurrent OCR)."
    )
    tessdata: str = Field(
        "", description="tesseract data folder; empty: $TESSDATA_PREFIX or the system one."
    )
    ocr_languages: str = Field(
        "auto",
        description="Languages of the second OCR pass over lines the English pass cannot "
        "read, in tesseract's codes joined by `+` (`chi_sim+deu+fra+spa`), each of whose "
        "models must be installed; `auto`: those of chi_sim, deu, fra and spa installed; "
        "empty: English only.",
    )
    max_image_pixels: int = Field(
        DEFAULT_MAX_PIXELS,
        ge=1_000_000,
        le=200_000_000,
        description="Largest screenshot (width x height) the gate decodes; bigger ones are "
        "refused from their header, before decoding.",
    )
    second_stage: bool = Field(
        True, description="Score text in other languages with the multilingual model "
        "(multilingual-e5-small, loaded at start: ~100 MB)."
    )  # fmt: skip
    second_stage_threads: int = Field(
        1, ge=1, le=16, description="CPU threads of the multilingual model."
    )
    judge: JudgeSettings = Field(
        default_factory=JudgeSettings,
        description="The second-stage judge: a Claude model asked about flagged content.",
    )

    @field_validator("ocr_languages")
    @classmethod
    def _check_languages(cls, value: str) -> str:
        if value.strip() != "auto":
            parse_languages(value)  # whether installed is known at start, not here
        return value
