"""`deskpilot-safety eval CASES.jsonl`: score any labelled set, one JSON line per case.

`deskpilot-safety serve …` runs the gRPC service (same as `python -m deskpilot.safety`).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from google.protobuf import json_format

from deskpilot.safety.action_check import ActionChecker, ActionInputError, ActionSituation
from deskpilot.safety.ocr import OcrEngine, ScreenReader, read_label
from deskpilot.safety.policy import Policy, PolicyError, load_policy, override_from_dict
from deskpilot.safety.scanner import ContentScanner
from deskpilot.safety.screen_cache import decode_image
from deskpilot.safety.taint import TaintStore
from deskpilot.safety.text_scan import TextScanner
from deskpilot.safety.ui_context import UiSnapshot, snapshot_of
from deskpilot.v1 import common_pb2

DEFAULT_ALLOW = ("example.com", "docs.python.org", "pypi.org", "github.com", "wikipedia.org")
TOOLS = ("bash", "computer", "str_replace_based_edit_tool", "str_replace_editor")


class CaseError(ValueError):
    """A case cannot be evaluated; the message goes to its error line."""


class Evaluator:
    """Evaluates cases one by one with a shared checker, scanner and OCR engine."""

    def __init__(self, policy: Policy, base_dir: Path) -> None:
        self.policy = policy
        self.base_dir = base_dir
        self._engine: OcrEngine | None = None
        self._text = TextScanner.shipped()

    @property
    def engine(self) -> OcrEngine:
        """Loaded on first use: text-only runs never pay for tesseract."""
        if self._engine is None:
            self._engine = OcrEngine(1)
        return self._engine

    def evaluate(self, case: dict[str, Any]) -> dict[str, Any]:
        """The output object for one case; raises CaseError."""
        kind = case.get("kind")
        if kind == "action":
            return self._action(case)
        if kind == "content":
            return self._content(case)
        raise CaseError(f"unknown kind {kind!r}; expected 'action' or 'content'")

    def _action(self, case: dict[str, Any]) -> dict[str, Any]:
        tool = case.get("tool")
        if tool not in TOOLS:
            raise CaseError(f"tool must be one of {', '.join(TOOLS)}, got {tool!r}")
        tool_input = case.get("input")
        if not isinstance(tool_input, dict):
            raise CaseError("input must be the tool_use input object")
        policy = self._policy(case.get("policy"))
        screenshot = self._read(case["screenshot"]) if case.get("screenshot") else b""
        reader = (
            (lambda data, x, y: read_label(self.engine, decode_image(data), x, y))
            if screenshot
            else None
        )
        checker = ActionChecker(TaintStore(), reader)
        situation = ActionSituation(
            screenshot=screenshot,
            window_title=str(case.get("window_title", "")),
            url=str(case.get("url", "")),
            tainted=bool(case.get("tainted", False)),
            ui=_ui(case.get("ui")),
        )
        try:
            verdict = checker.check(tool, tool_input, situation, policy)
        except ActionInputError as exc:
            raise CaseError(str(exc)) from None
        return {
            "decision": verdict.decision.name.lower(),
            "reasons": [f"{r.rule_id}: {r.message}" for r in verdict.reasons],
        }

    def _content(self, case: dict[str, Any]) -> dict[str, Any]:
        scanner = ContentScanner(self._text, None, TaintStore())
        if isinstance(case.get("text"), str):
            result = scanner.scan_text(case["text"], self.policy)
        elif isinstance(case.get("image"), str):
            scanner.screen = ScreenReader(self.engine)
            try:
                result = scanner.scan_image(self._read(case["image"]), self.policy)
            except ValueError as exc:
                raise CaseError(str(exc)) from None
        else:
            raise CaseError("a content case needs a string 'text' or an 'image' path")
        return {"injection": result.injection, "score": round(result.score, 4)}

    def _policy(self, override: Any) -> Policy:
        if override is None:
            return self.policy
        try:
            return self.policy.merged(override_from_dict(override))
        except PolicyError as exc:
            raise CaseError(str(exc)) from None

    def _read(self, relative: str) -> bytes:
        path = (self.base_dir / relative).resolve()
        try:
            return path.read_bytes()
        except OSError as exc:
            raise CaseError(f"cannot read {relative}: {exc.strerror}") from None


def _ui(raw: Any) -> UiSnapshot:
    """A case's `ui` object (the UiContext proto's fields, as JSON) as plain data."""
    if raw is None:
        return UiSnapshot()
    if not isinstance(raw, dict):
        raise CaseError("ui must be an object with the UiContext fields")
    try:
        return snapshot_of(json_format.ParseDict(raw, common_pb2.UiContext()))
    except json_format.ParseError as exc:
        raise CaseError(f"ui: {exc}") from None


def run_eval(cases: TextIO, out: TextIO, evaluator: Evaluator) -> int:
    """Evaluate every line; returns the number of error lines written."""
    errors = 0
    for number, line in enumerate(cases, start=1):
        if not line.strip():
            continue
        case_id: Any = f"line {number}"
        try:
            case = json.loads(line)
            if not isinstance(case, dict):
                raise CaseError("each line must be a JSON object")
            case_id = case.get("id", case_id)
            result = {"id": case_id, **evaluator.evaluate(case)}
        except json.JSONDecodeError as exc:
            result = {"id": case_id, "error": f"not valid JSON: {exc.msg} (column {exc.colno})"}
        except CaseError as exc:
            result = {"id": case_id, "error": str(exc)}
        if "error" in result:
            errors += 1
        out.write(json.dumps(result, ensure_ascii=False) + "\n")
        out.flush()
    return errors


def _lines(path: str) -> Iterator[str]:
    if path == "-":
        yield from sys.stdin
        return
    with open(path, encoding="utf-8") as handle:
        yield from handle


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `deskpilot-safety` command."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["serve"]:
        from deskpilot.common.service import run_service
        from deskpilot.safety.app import build
        from deskpilot.safety.settings import SafetySettings

        run_service(SafetySettings, build, argv[1:])
        return
    parser = argparse.ArgumentParser(prog="deskpilot-safety", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    evaluate = sub.add_parser("eval", help="score a JSONL file of cases")
    evaluate.add_argument("cases", help="JSONL file ('-' for stdin)")
    evaluate.add_argument(
        "--allow-domain",
        action="append",
        default=None,
        help="allow-listed domain (repeatable; replaces the default list)",
    )
    evaluate.add_argument("--policy-file", type=Path, default=None)
    sub.add_parser("serve", help="run the gRPC service")
    args = parser.parse_args(argv)
    try:
        policy = load_policy(args.policy_file).with_domains(
            list(args.allow_domain or DEFAULT_ALLOW)
        )
    except (PolicyError, ValueError) as exc:
        parser.exit(2, f"deskpilot-safety: {exc}\n")
    base = Path(args.cases).resolve().parent if args.cases != "-" else Path.cwd()
    try:
        errors = run_eval(_lines(args.cases), sys.stdout, Evaluator(policy, base))
    except OSError as exc:
        parser.exit(2, f"deskpilot-safety: cannot read {args.cases}: {exc.strerror}\n")
    if errors:
        print(f"deskpilot-safety: {errors} case(s) could not be evaluated", file=sys.stderr)


if __name__ == "__main__":
    main()
