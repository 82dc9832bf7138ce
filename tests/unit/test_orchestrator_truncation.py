"""Cutting a tool result to its bound: head and tail kept, a note saying what was cut."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from deskpilot.common.config import load_settings
from deskpilot.orchestrator import results
from deskpilot.orchestrator.sandboxes.client import ToolOutcome
from deskpilot.orchestrator.settings import OrchestratorSettings
from deskpilot.orchestrator.truncation import (
    MAX_STATUS_REASON_CHARACTERS,
    bounded,
    status_reason,
)

NOTE = re.compile(r"\[output truncated: showed the first (\d+) and last (\d+) of (\d+) characters")


def test_a_long_text_keeps_whole_lines_at_both_ends_and_says_how_much() -> None:
    text = "".join(f"line {number}\n" for number in range(400_000))
    cut = bounded(text, 16_000, hint="view a line range to see the rest")
    assert len(cut) <= 16_000
    head, tail, total = (int(n) for n in NOTE.search(cut).groups())  # type: ignore[union-attr]
    assert total == len(text)
    assert cut.startswith(text[:head]) and cut.endswith(text[-tail:])
    assert text[:head].endswith("\n") and text[-tail - 1] == "\n"  # no line cut in two
    assert cut.count("\n[output truncated") == 1 and "; view a line range to see the rest]" in cut


def test_a_text_within_the_bound_is_unchanged() -> None:
    assert bounded("x" * 16_000, 16_000) == "x" * 16_000


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=3_000), st.integers(min_value=1, max_value=2_000))
def test_nothing_is_ever_longer_than_the_bound(text: str, limit: int) -> None:
    cut = bounded(text, limit)
    assert len(cut) <= limit
    if len(text) > limit and (match := NOTE.search(cut)):
        head, tail, total = (int(n) for n in match.groups())
        assert total == len(text) and cut.startswith(text[:head])
        assert cut.endswith(text[len(text) - tail :]) if tail else True


def test_error_results_and_flagged_results_are_bounded_too() -> None:
    error = results.error_result("t1", "Blocked: " + "why " * 10_000, max_characters=2_000)
    [block] = error["content"]  # type: ignore[misc]
    assert len(block["text"]) <= 2_000 and "output truncated" in block["text"]
    flagged = results.tool_result(
        "t2", ToolOutcome(text="y" * 50_000), flagged=True, max_characters=2_000
    )
    texts = [b["text"] for b in flagged["content"] if b["type"] == "text"]  # type: ignore[index]
    assert texts[-1] == results.INJECTION_NOTE and sum(len(t) + 1 for t in texts) <= 2_001


def test_the_default_bound_is_the_reference_16000() -> None:
    settings_ = load_settings(OrchestratorSettings, None)
    assert settings_.max_result_characters == 16_000
    [block] = results.tool_result("t", ToolOutcome(text="z" * 100_000))["content"]  # type: ignore[misc]
    assert len(block["text"]) <= 16_000  # type: ignore[typeddict-item]


def test_a_status_reason_quoting_a_huge_error_is_cut_to_its_bound() -> None:
    # Reasons quote errors ("could not start: ..."); unbounded, one could outgrow the record.
    reason = "could not start: " + "x" * 3_000_000
    cut = status_reason(reason)
    assert len(cut) <= MAX_STATUS_REASON_CHARACTERS
    assert cut.startswith("could not start: ") and NOTE.search(cut)
    assert status_reason("queued") == "queued"
