"""The words that make a click or a keystroke consequential, as policy data.

The packaged `data/vocabulary.yaml` is always in force; a deployment's policy file may add
groups or phrases under `vocabulary:`. Phrases are compiled with RE2 (a policy author
writes them), as whole-word, case-insensitive matches.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

import re2
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from deskpilot.safety.categories import ALL_CATEGORIES, BLOCK_CATEGORIES
from deskpilot.safety.user_patterns import Matcher, compile_user_pattern

DEFAULT_VOCABULARY_FILE = Path(__file__).with_name("data") / "vocabulary.yaml"
MAX_PHRASES = 2000
_PHRASE = Field(min_length=1, max_length=80)
# Scripts written without spaces between words: no word boundary to look for.
_UNSPACED = re2.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}]")


class GroupModel(BaseModel):
    """One meaning: the phrases that say it, and the category it falls in."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=40)
    category: str
    does: str = Field("", max_length=120)
    phrases: list[str] = Field(min_length=1, max_length=MAX_PHRASES)

    @field_validator("category")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in ALL_CATEGORIES or value in BLOCK_CATEGORIES or value == "custom":
            raise ValueError(
                f"unknown category {value!r} for a vocabulary group; use one a person can "
                "approve, e.g. deletion, payment, terms, messaging, install_software"
            )
        return value

    @field_validator("phrases")
    @classmethod
    def _phrases(cls, values: list[str]) -> list[str]:
        cleaned = [" ".join(v.split()) for v in values]
        empty = [i for i, v in enumerate(cleaned) if not v]
        if empty:
            raise ValueError(f"phrases {empty} are empty")
        long = [v for v in cleaned if len(v) > 80]
        if long:
            raise ValueError(f"phrases longer than 80 characters: {long[:3]}")
        return cleaned


class VocabularyModel(BaseModel):
    """The `vocabulary:` section's schema (and the packaged file's)."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    clicks: list[GroupModel] = Field(default_factory=list)
    confirmations: list[str] = Field(default_factory=list, max_length=MAX_PHRASES)
    fields: list[GroupModel] = Field(default_factory=list)
    address_bar: list[str] = Field(default_factory=list, max_length=MAX_PHRASES)


@dataclass(frozen=True)
class Group:
    """A compiled group: `match` finds its phrases in a text."""

    id: str
    category: str
    does: str
    match: Matcher


@dataclass(frozen=True)
class Hit:
    """A group found in a text, and the words that matched."""

    group: Group
    words: str


@dataclass(frozen=True)
class Vocabulary:
    """The compiled vocabulary one policy judges with."""

    clicks: tuple[Group, ...]
    confirmations: Matcher | None
    fields: tuple[Group, ...]
    address_bar: Matcher | None

    def click(self, text: str) -> Hit | None:
        """What a control labelled `text` does, when that is consequential."""
        return _first(self.clicks, text)

    def field(self, text: str) -> Hit | None:
        """What kind of field a name or label describes, when it is a sensitive one."""
        return _first(self.fields, text)

    def only_confirms(self, text: str) -> bool:
        """Whether `text` is a generic confirmation (OK, Yes, Continue)."""
        return self.confirmations is not None and _whole(self.confirmations, text)

    def names_address_bar(self, text: str) -> bool:
        """Whether a field's accessible name is a browser's address bar's."""
        return self.address_bar is not None and bool(text) and _found(self.address_bar, text)


def _first(groups: tuple[Group, ...], text: str) -> Hit | None:
    text = " ".join(text.split())
    if not text:
        return None
    for group in groups:
        found = group.match.search(text)
        if found is not None:
            return Hit(group, found.group(1))  # type: ignore[attr-defined]
    return None


def _found(matcher: Matcher, text: str) -> bool:
    return matcher.search(" ".join(text.split())) is not None


def _whole(matcher: Matcher, text: str) -> bool:
    """Whether the text is the phrase and nothing more than punctuation around it."""
    text = " ".join(text.split()).strip(" .!?:…\"'“”")
    found = matcher.search(text)
    return found is not None and len(found.group(1)) == len(text)  # type: ignore[attr-defined]


def phrase_pattern(phrases: list[str]) -> str:
    """One RE2 pattern matching any phrase as whole words; group 1 is the phrase found."""
    alternatives = []
    # Longest first, so "accept all" is reported rather than "accept".
    for phrase in sorted(set(phrases), key=len, reverse=True):
        words = r"\s+".join(re2.escape(word) for word in phrase.split())
        alternatives.append(words)
    body = "|".join(alternatives)
    # Letters and digits around a phrase make it part of another word ("trashcan").
    return rf"(?i)(?:^|[^\pL\pN])({body})(?:$|[^\pL\pN])"


def _unspaced_pattern(phrases: list[str]) -> str:
    body = "|".join(re2.escape(p) for p in sorted(set(phrases), key=len, reverse=True))
    return rf"({body})"


def _compile_phrases(phrases: list[str]) -> Matcher | None:
    if not phrases:
        return None
    spaced = [p for p in phrases if not _UNSPACED.search(p)]
    unspaced = [p for p in phrases if _UNSPACED.search(p)]
    parts = []
    if spaced:
        parts.append(phrase_pattern(spaced))
    if unspaced:
        parts.append(_unspaced_pattern(unspaced))
    if len(parts) == 1:
        return compile_user_pattern(parts[0])
    return _Either(compile_user_pattern(parts[0]), compile_user_pattern(parts[1]))


class _Either:
    """Two matchers tried in turn (spaced words need boundaries, unspaced scripts not)."""

    def __init__(self, first: Matcher, second: Matcher) -> None:
        self._first, self._second = first, second

    def search(self, text: str) -> object | None:
        return self._first.search(text) or self._second.search(text)


def _merged_groups(base: list[GroupModel], extra: list[GroupModel]) -> list[GroupModel]:
    """`extra`'s groups added to `base`'s: a known id gains phrases, a new id is appended."""
    merged = {g.id: g.model_copy(deep=True) for g in base}
    for group in extra:
        if group.id in merged:
            known = merged[group.id]
            if group.category != known.category:
                raise ValueError(
                    f"group {group.id!r} is {known.category} in the default vocabulary; "
                    f"it cannot become {group.category}"
                )
            known.phrases.extend(p for p in group.phrases if p not in known.phrases)
        else:
            merged[group.id] = group.model_copy(deep=True)
    return list(merged.values())


def _compile_groups(groups: list[GroupModel]) -> tuple[Group, ...]:
    compiled = []
    for group in groups:
        matcher = _compile_phrases(group.phrases)
        assert matcher is not None  # every group has at least one phrase
        compiled.append(Group(group.id, group.category, group.does, matcher))
    return tuple(compiled)


def load_default_model() -> VocabularyModel:
    """The packaged vocabulary, validated."""
    raw = yaml.safe_load(DEFAULT_VOCABULARY_FILE.read_text(encoding="utf-8"))
    return VocabularyModel.model_validate(raw)


def build_vocabulary(extra: VocabularyModel | None = None) -> Vocabulary:
    """The packaged vocabulary with a policy's additions; raises ValueError naming a
    conflicting group."""
    base = load_default_model()
    extra = extra or VocabularyModel()
    clicks = _merged_groups(base.clicks, extra.clicks)
    fields = _merged_groups(base.fields, extra.fields)
    return Vocabulary(
        clicks=_compile_groups(clicks),
        confirmations=_compile_phrases([*base.confirmations, *extra.confirmations]),
        fields=_compile_groups(fields),
        address_bar=_compile_phrases([*base.address_bar, *extra.address_bar]),
    )


@cache
def default_vocabulary() -> Vocabulary:
    """The packaged vocabulary alone (compiled once)."""
    return build_vocabulary()
