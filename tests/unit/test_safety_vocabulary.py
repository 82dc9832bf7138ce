"""Clicks and typing judged by the widget under the pointer and the focused field, with the
vocabulary of consequential actions as policy data."""

from __future__ import annotations

from typing import Any

import pytest

from deskpilot.safety.action_check import ActionChecker, ActionSituation
from deskpilot.safety.policy import Policy, PolicyError, load_policy, parse_policy
from deskpilot.safety.ui_context import UiSnapshot, Widget
from deskpilot.safety.verdict import Decision

BASE = load_policy().with_domains(["docs.python.org"])


def judge(
    action: str,
    ui: UiSnapshot,
    policy: Policy = BASE,
    **fields: Any,
) -> tuple[Decision, list[str]]:
    tool_input = {"action": action, **fields}
    if action.endswith("click") and "coordinate" not in tool_input:
        tool_input["coordinate"] = [100, 100]
    verdict = ActionChecker().check("computer", tool_input, ActionSituation(ui=ui), policy)
    return verdict.decision, [r.rule_id for r in verdict.reasons]


def button(name: str, role: str = "push button", **around: Any) -> UiSnapshot:
    return UiSnapshot(available=True, widget=Widget(role=role, name=name), **around)


def field(role: str = "entry", name: str = "", label: str = "", **around: Any) -> UiSnapshot:
    focused = Widget(role=role, name=name, label=label, states=frozenset({"focused"}))
    return UiSnapshot(available=True, focused=focused, **around)


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("Move to Trash", "computer.click-delete"),
        ("Delete account", "computer.click-delete"),
        ("Place your order", "computer.click-payment"),
        ("Pay €12.99", "computer.click-payment"),
        ("Accept all cookies", "computer.click-accept"),
        ("I agree to the Terms", "computer.click-accept"),
        ("Install", "computer.click-install"),
        ("Force push", "computer.click-send"),
        ("Reply all", "computer.click-send"),
        ("Clear logs", "computer.click-security"),
        ("Turn off protection", "computer.click-security"),
        ("Jetzt kaufen", "computer.click-payment"),
        ("Supprimer", "computer.click-delete"),
        ("删除", "computer.click-delete"),
    ],
)
def test_an_icon_only_button_is_judged_by_its_accessible_name(name: str, rule: str) -> None:
    # No screenshot: nothing for OCR to read, as for an icon, a faint or a tiny button.
    decision, rules = judge("left_click", button(name))
    assert decision == Decision.CONFIRM
    assert rules == [rule]


@pytest.mark.parametrize(
    "name", ["Cancel", "Save", "Open", "Search", "Removal policy", "Settings", "Back"]
)
def test_ordinary_buttons_are_allowed(name: str) -> None:
    assert judge("left_click", button(name)) == (Decision.ALLOW, [])


def test_a_phrase_inside_another_word_does_not_count() -> None:
    assert judge("left_click", button("Paywall explained"))[0] == Decision.ALLOW
    assert judge("left_click", button("Deleted items"))[0] == Decision.ALLOW


def test_ok_is_judged_by_the_dialog_it_answers() -> None:
    ui = button("OK", dialog_title="Delete 3 files?", dialog_text="This cannot be undone.")
    assert judge("left_click", ui) == (Decision.CONFIRM, ["computer.confirm-delete"])
    ui = button("Yes", dialog_title="Confirm", dialog_text="Send this message to 40 people?")
    assert judge("left_click", ui) == (Decision.CONFIRM, ["computer.confirm-send"])
    ui = button("OK", dialog_title="Preferences", dialog_text="Your settings were saved.")
    assert judge("left_click", ui) == (Decision.ALLOW, [])


def test_an_unavailable_tree_is_not_read() -> None:
    ui = UiSnapshot(available=False, widget=Widget(role="push button", name="Delete"))
    assert judge("left_click", ui) == (Decision.ALLOW, [])


def test_a_page_naming_a_pay_button_cancel_is_caught_by_the_pixels() -> None:
    from deskpilot.safety.computer_rules import click_findings

    findings = list(click_findings(button("Cancel"), "Pay now", BASE.vocabulary))
    assert [f.rule_id for f in findings] == ["computer.click-payment", "computer.label-mismatch"]
    assert "named “Cancel” but shows “Pay now”" in findings[1].message
    # Both say the same thing: nothing to report beyond the button itself.
    findings = list(click_findings(button("Delete file"), "Delete", BASE.vocabulary))
    assert [f.rule_id for f in findings] == ["computer.click-delete"]


def test_typing_into_a_password_field_needs_a_person() -> None:
    decision, rules = judge("type", field(role="password text", name="Password"), text="hunter2")
    assert (decision, rules) == (Decision.CONFIRM, ["computer.type-into-secret"])


@pytest.mark.parametrize(
    ("label", "rule", "category_decision"),
    [
        ("CVV", "computer.type-into-card", Decision.CONFIRM),
        ("Security code", "computer.type-into-card", Decision.CONFIRM),
        ("Card number", "computer.type-into-card", Decision.CONFIRM),
        ("API key", "computer.type-into-secret", Decision.CONFIRM),
        ("Contraseña", "computer.type-into-secret", Decision.CONFIRM),
    ],
)
def test_typing_is_judged_by_the_field_label(
    label: str, rule: str, category_decision: Decision
) -> None:
    decision, rules = judge("type", field(label=label), text="123")
    assert (decision, rules) == (category_decision, [rule])


def test_typing_into_an_ordinary_field_is_allowed() -> None:
    assert judge("type", field(label="First name"), text="Ada") == (Decision.ALLOW, [])


def test_text_typed_into_the_address_bar_is_navigation() -> None:
    ui = field(name="Search or enter address", window_class="firefox-esr")
    decision, rules = judge("type", ui, text="evil.example.net")
    assert (decision, rules) == (Decision.CONFIRM, ["network.navigate-not-allowed"])
    assert judge("type", ui, text="docs.python.org/3/")[0] == Decision.ALLOW
    # The executor's own word that the focus is in the address bar is enough.
    flagged = field(name="", focus_in_address_bar=True)
    assert judge("type", flagged, text="evil.example.net")[0] == Decision.CONFIRM


def test_a_policy_adds_phrases_and_groups() -> None:
    policy = parse_policy(
        """
allowed_domains: [docs.python.org]
vocabulary:
  clicks:
    - id: delete
      category: deletion
      phrases: [archive forever]
    - id: wire
      category: payment
      does: wires money
      phrases: [wire funds]
  fields:
    - id: tax
      category: secret_entry
      does: a tax number field
      phrases: [tax id]
"""
    )
    assert judge("left_click", button("Archive forever"), policy)[1] == ["computer.click-delete"]
    assert judge("left_click", button("Wire funds"), policy)[1] == ["computer.click-wire"]
    assert judge("type", field(label="Tax ID"), policy, text="12")[1] == ["computer.type-into-tax"]
    # The defaults stay.
    assert judge("left_click", button("Delete"), policy)[1] == ["computer.click-delete"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "vocabulary: {clicks: [{id: x, category: destruction, phrases: [boom]}]}",
            "unknown category 'destruction' for a vocabulary group",
        ),
        (
            "vocabulary: {clicks: [{id: delete, category: payment, phrases: [zap]}]}",
            "group 'delete' is deletion in the default vocabulary; it cannot become payment",
        ),
        ("vocabulary: {clicks: [{id: x, category: payment, phrases: []}]}", "clicks.0.phrases"),
        ("vocabulary: {clicks: [{id: x, category: payment, phrases: ['  ']}]}", "are empty"),
        ("vocabulary: {buttons: []}", "vocabulary.buttons: Extra inputs are not permitted"),
        ("vocabulary: {clicks: [{id: Bad Id, category: payment, phrases: [a]}]}", "clicks.0.id"),
    ],
)
def test_a_bad_vocabulary_names_the_field(text: str, message: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, "policy.yaml")
    assert message in str(caught.value)
    assert str(caught.value).startswith("policy.yaml:")
