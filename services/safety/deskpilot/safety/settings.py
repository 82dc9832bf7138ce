"""Settings of the safety service."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field

from deskpilot.common.security import SecuredServiceSettings
from deskpilot.safety.screen_cache import DEFAULT_MAX_PIXELS


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
    max_image_pixels: int = Field(
        DEFAULT_MAX_PIXELS,
        ge=1_000_000,
        le=200_000_000,
        description="Largest screenshot (width x height) the gate decodes; bigger ones are "
        "refused from their header, before decoding.",
    )
