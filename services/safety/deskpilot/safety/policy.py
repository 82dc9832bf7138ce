"""The policy as data: a YAML file per deployment, validated at load, with per-session
overrides (the `SafetyPolicy` proto) merged on top."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from deskpilot.safety.categories import ALL_CATEGORIES, BLOCK_CATEGORIES, DEFAULT_DECISIONS
from deskpilot.safety.domains import normalise_domain
from deskpilot.safety.user_patterns import (
    MAX_PATTERN_CHARS,
    Matcher,
    PatternError,
    compile_user_pattern,
)
from deskpilot.safety.verdict import Decision
from deskpilot.safety.vocabulary import (
    Vocabulary,
    VocabularyModel,
    build_vocabulary,
    default_vocabulary,
)
from deskpilot.v1 import safety_pb2

DEFAULT_POLICY_FILE = Path(__file__).with_name("data") / "default_policy.yaml"
KNOWN_TOOLS = frozenset({"bash", "computer", "str_replace_editor", "str_replace_based_edit_tool"})
DecisionName = Literal["allow", "confirm", "block"]


class PolicyError(ValueError):
    """A policy (file or override) is invalid; the message says where and why.

    `problems` lists each (field, what is wrong) of a session override, so callers can
    name the field in their own terms (the orchestrator prefixes `config.safety_policy.`).
    """

    def __init__(self, message: str, problems: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(message)
        self.problems = problems


class RuleModel(BaseModel):
    """A user-defined rule: an RE2 regular expression over the normalised action text."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=80)
    tools: list[str] = Field(default_factory=list)
    pattern: str = Field(min_length=1, max_length=MAX_PATTERN_CHARS)
    decision: DecisionName
    reason: str = Field(min_length=1, max_length=200)

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            compile_user_pattern(value)
        except PatternError as exc:
            raise ValueError(str(exc)) from None
        return value


class ThresholdsModel(BaseModel):
    """Injection score thresholds."""

    model_config = ConfigDict(extra="forbid")

    taint: float = Field(0.5, gt=0, le=1)
    confirm: float = Field(0.8, gt=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> ThresholdsModel:
        if self.taint > self.confirm:
            raise ValueError(f"taint ({self.taint}) must not exceed confirm ({self.confirm})")
        return self


class PolicyModel(BaseModel):
    """The YAML file's schema."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    allowed_domains: list[str] = Field(default_factory=list)
    allow_loopback: bool = True
    categories: dict[str, DecisionName] = Field(default_factory=dict)
    rules: list[RuleModel] = Field(default_factory=list)
    thresholds: ThresholdsModel = Field(default_factory=ThresholdsModel)
    # Added to the packaged vocabulary (data/vocabulary.yaml), never replacing it.
    vocabulary: VocabularyModel | None = None

    @field_validator("allowed_domains")
    @classmethod
    def _domains(cls, values: list[str]) -> list[str]:
        return [_checked_domain(v) for v in values]

    @field_validator("categories")
    @classmethod
    def _known_categories(cls, values: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(values) - ALL_CATEGORIES)
        if unknown:
            raise ValueError(
                f"unknown categories {unknown}; known: {', '.join(sorted(ALL_CATEGORIES))}"
            )
        return values

    @model_validator(mode="after")
    def _unique_rule_ids(self) -> PolicyModel:
        ids = [r.id for r in self.rules]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate rule ids {dupes}")
        return self


@dataclass(frozen=True)
class CustomRule:
    """A compiled user rule."""

    id: str
    tools: frozenset[str]
    pattern: Matcher
    decision: Decision
    reason: str


@dataclass(frozen=True)
class Policy:
    """The effective policy for one check."""

    allowed_domains: tuple[str, ...] = ()
    allow_loopback: bool = True
    decisions: dict[str, Decision] = field(default_factory=lambda: dict(DEFAULT_DECISIONS))
    rules: tuple[CustomRule, ...] = ()
    taint_threshold: float = 0.5
    confirm_threshold: float = 0.8
    vocabulary: Vocabulary = field(default_factory=default_vocabulary)

    def decision_for(self, category: str) -> Decision:
        """What a reason of this category asks for under this policy."""
        return self.decisions.get(category, Decision.CONFIRM)

    def with_domains(self, domains: list[str]) -> Policy:
        """A copy whose allow-list is `domains` (validated)."""
        return replace(self, allowed_domains=tuple(_checked_domain(d) for d in domains))

    def merged(self, override: safety_pb2.SafetyPolicy | None) -> Policy:
        """This policy with a session override applied; raises PolicyError listing every
        invalid field."""
        if override is None or override.ByteSize() == 0:
            return self
        problems: list[tuple[str, str]] = []
        domains = self.allowed_domains
        if override.allowed_domains:
            checked = []
            for index, value in enumerate(override.allowed_domains):
                try:
                    checked.append(_checked_domain(value))
                except ValueError as exc:
                    problems.append((f"allowed_domains[{index}]", str(exc)))
            domains = tuple(checked)
        decisions = dict(self.decisions)
        for category, value in sorted(override.category_decisions.items()):
            where = f"category_decisions[{category!r}]"
            wanted = _session_decision(category, value, self.decisions, problems, where)
            if wanted is not None:
                decisions[category] = wanted
        rules = list(self.rules)
        for index, rule in enumerate(override.rules):
            try:
                rules.append(_rule_from_proto(rule))
            except _RuleProblem as exc:
                problems.append((f"rules[{index}].{exc.field}", exc.message))
        taint = override.taint_threshold or self.taint_threshold
        confirm = override.confirm_threshold or self.confirm_threshold
        for name, value in (("taint_threshold", taint), ("confirm_threshold", confirm)):
            if not 0 < value <= 1:
                problems.append((name, f"must be in (0, 1] (0 keeps the default), got {value:g}"))
        if not problems and taint > confirm:
            problems.append(
                ("taint_threshold", f"{taint:g} must not exceed confirm_threshold ({confirm:g})")
            )
        if problems:
            raise PolicyError(
                "invalid session policy: " + "; ".join(f"{f}: {m}" for f, m in problems),
                tuple(problems),
            )
        return Policy(
            allowed_domains=domains,
            allow_loopback=self.allow_loopback,
            decisions=decisions,
            rules=tuple(rules),
            taint_threshold=taint,
            confirm_threshold=confirm,
            vocabulary=self.vocabulary,
        )


_PROTO_DECISIONS = "DECISION_ALLOW (1), DECISION_CONFIRM (2) or DECISION_BLOCK (3)"
_DECISION_VALUES = frozenset(int(d) for d in Decision)


def _session_decision(
    category: str,
    value: int,
    base: dict[str, Decision],
    problems: list[tuple[str, str]],
    where: str,
) -> Decision | None:
    """The decision a session asks for a category, or None after recording the problem."""
    if category not in ALL_CATEGORIES:
        problems.append(
            (where, f"unknown category {category!r}; known: {', '.join(sorted(ALL_CATEGORIES))}")
        )
        return None
    if value not in _DECISION_VALUES:
        problems.append((where, f"decision {value} is not one of {_PROTO_DECISIONS}"))
        return None
    wanted = Decision(value)
    if category in BLOCK_CATEGORIES and wanted < base[category]:
        problems.append(
            (where, f"a session may not relax {category} below {base[category].name.lower()}")
        )
        return None
    return wanted


def parse_policy(text: str, source: str = "<policy>") -> Policy:
    """Validate YAML policy text; raises PolicyError naming each bad field."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PolicyError(f"{source}: not valid YAML: {exc}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise PolicyError(f"{source}: the top level must be a mapping, got {type(raw).__name__}")
    try:
        model = PolicyModel.model_validate(raw)
    except ValidationError as exc:
        raise PolicyError(f"{source}: {_describe(exc)}") from None
    decisions = dict(DEFAULT_DECISIONS)
    decisions.update({k: Decision.parse(v) for k, v in model.categories.items()})
    vocabulary = default_vocabulary()
    if model.vocabulary is not None:
        try:
            vocabulary = build_vocabulary(model.vocabulary)
        except (ValueError, PatternError) as exc:
            raise PolicyError(f"{source}: vocabulary: {exc}") from None
    return Policy(
        allowed_domains=tuple(model.allowed_domains),
        allow_loopback=model.allow_loopback,
        decisions=decisions,
        rules=tuple(_compile(r) for r in model.rules),
        taint_threshold=model.thresholds.taint,
        confirm_threshold=model.thresholds.confirm,
        vocabulary=vocabulary,
    )


_DECISION_NAMES = {"allow": 1, "confirm": 2, "block": 3}
_OVERRIDE_KEYS = {"allowed_domains", "categories", "category_decisions", "rules", "thresholds"}


def override_from_dict(raw: object) -> safety_pb2.SafetyPolicy:
    """A session override written as JSON (the YAML file's keys) as the proto; raises
    PolicyError naming the bad key."""
    if not isinstance(raw, dict):
        raise PolicyError("policy override must be an object")
    unknown = sorted(set(raw) - _OVERRIDE_KEYS)
    if unknown:
        raise PolicyError(
            f"policy override: unknown keys {unknown}; known: {', '.join(sorted(_OVERRIDE_KEYS))}"
        )
    message = safety_pb2.SafetyPolicy()
    domains = raw.get("allowed_domains", [])
    if not isinstance(domains, list) or not all(isinstance(d, str) for d in domains):
        raise PolicyError("policy override: allowed_domains must be a list of strings")
    message.allowed_domains.extend(domains)
    categories = {**(raw.get("categories") or {}), **(raw.get("category_decisions") or {})}
    for category, decision in categories.items():
        if decision not in _DECISION_NAMES:
            raise PolicyError(
                f"policy override: categories.{category} must be allow, confirm "
                f"or block, got {decision!r}"
            )
        message.category_decisions[category] = _DECISION_NAMES[decision]
    for index, rule in enumerate(raw.get("rules") or []):
        if not isinstance(rule, dict) or rule.get("decision") not in _DECISION_NAMES:
            raise PolicyError(
                f"policy override: rules[{index}] needs id, pattern, reason and "
                "a decision of allow, confirm or block"
            )
        message.rules.add(
            id=str(rule.get("id", "")),
            tools=list(rule.get("tools") or []),
            pattern=str(rule.get("pattern", "")),
            decision=_DECISION_NAMES[rule["decision"]],
            reason=str(rule.get("reason", "")),
        )
    thresholds = raw.get("thresholds") or {}
    try:
        message.taint_threshold = float(thresholds.get("taint", 0))
        message.confirm_threshold = float(thresholds.get("confirm", 0))
    except (TypeError, ValueError, AttributeError):
        raise PolicyError("policy override: thresholds.taint/confirm must be numbers") from None
    return message


def load_policy(path: Path | None = None) -> Policy:
    """Read and validate a policy file (the packaged default when `path` is None)."""
    path = path or DEFAULT_POLICY_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read policy file: {exc.strerror}") from None
    return parse_policy(text, str(path))


def _checked_domain(value: str) -> str:
    domain = normalise_domain(value)
    if domain is None:
        raise ValueError(f"{value!r} is not a domain name (write e.g. 'example.com')")
    return domain


def _compile(rule: RuleModel) -> CustomRule:
    return CustomRule(
        id=rule.id,
        tools=frozenset(rule.tools),
        pattern=compile_user_pattern(rule.pattern),
        decision=Decision.parse(rule.decision),
        reason=rule.reason,
    )


class _RuleProblem(ValueError):
    """One field of a session rule is invalid."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _rule_from_proto(rule: safety_pb2.PolicyRule) -> CustomRule:
    if rule.decision not in _DECISION_VALUES:
        got = "unspecified" if rule.decision == 0 else f"{rule.decision} is not valid"
        raise _RuleProblem("decision", f"{got}; use {_PROTO_DECISIONS}")
    try:
        model = RuleModel(
            id=rule.id,
            tools=list(rule.tools),
            pattern=rule.pattern,
            decision=Decision(rule.decision).name.lower(),
            reason=rule.reason,
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(p) for p in error["loc"]) or "rule"
        raise _RuleProblem(field, error["msg"].removeprefix("Value error, ")) from None
    return _compile(model)


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "(top level)"
        message = error["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {message}")
    return "; ".join(parts)
