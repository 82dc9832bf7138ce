"""Settings of the safety service."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field

from deskpilot.common.config import ServiceSettings


class SafetySettings(ServiceSettings):
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
