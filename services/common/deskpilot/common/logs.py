"""Structured logs: JSON lines for machines, readable lines on a terminal.

Extra fields passed as `logger.info("msg", extra={"session_id": ...})` become JSON keys,
so logs can be filtered by session, method or status code.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from pythonjsonlogger.json import JsonFormatter

from deskpilot.common.config import CommonSettings

_TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
_JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s"
# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class _TextWithExtras(logging.Formatter):
    """Plain text that still shows the structured fields, as `key=value` pairs."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS}
        if extras:
            line += " " + " ".join(f"{k}={v}" for k, v in extras.items())
        return line


def configure_logging(
    settings: CommonSettings, *, service: str | None = None, stream: TextIO | None = None
) -> None:
    """Route the root logger to `stream` (stderr) in the configured format and level."""
    stream = stream or sys.stderr
    fmt = settings.log_format
    if fmt == "auto":
        fmt = "text" if stream.isatty() else "json"
    handler = logging.StreamHandler(stream)
    if fmt == "json":
        static = {"service": service or settings.service_name}
        handler.setFormatter(
            JsonFormatter(_JSON_FIELDS, rename_fields={"levelname": "level"}, static_fields=static)
        )
    else:
        handler.setFormatter(_TextWithExtras(_TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
