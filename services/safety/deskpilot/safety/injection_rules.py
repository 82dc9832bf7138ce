"""Hand-written patterns of prompt injection, scored alongside the trained model."""

from __future__ import annotations

import re

# (pattern over normalised lower-case text, weight 0..1)
RULES: tuple[tuple[str, re.Pattern[str], float], ...] = tuple(
    (name, re.compile(pattern), weight)
    for name, pattern, weight in (
        (
            "ignore-instructions",
            r"\b(ignore|disregard|forget|override|bypass)\b.{0,40}\b(previous|prior|above|earlier|"
            r"all|your|the|system|original)\b.{0,30}\b(instructions?|prompts?|directions?|rules|"
            r"guidelines|tasks?|context)",
            0.9,
        ),
        (
            "ignore-everything",
            r"\b(ignore|disregard|forget)\s+(everything|anything|all)\s+(above|before|earlier|"
            r"previously|you were told)\b",
            0.8,
        ),
        (
            "new-goal",
            r"\b(your\s+(new|updated|real|actual|true)\s+(goal|task|objective|mission|"
            r"instructions?|orders?|directive)s?|the\s+(new|updated|real|actual|true)\s+"
            r"(instructions?|orders?|directives?))\s*((is|are)\b|[:\-])",
            0.6,
        ),
        (
            "new-instructions",
            r"\b(new|updated|real|actual|important|urgent)\s+(instructions?|task|orders?|"
            r"directive)s?\b\s*[:\-]",
            0.6,
        ),
        (
            "address-agent",
            r"\b(ai|llm|language model|assistant|agent|claude|chatbot|gpt|bot)\b.{0,30}\b(must|"
            r"should|shall|need to|are (now )?(required|instructed)|has to|have to)\b",
            0.55,
        ),
        ("you-are-now", r"\byou are now\b|\bfrom now on,? you\b|\bact as (an?|the)\b", 0.5),
        (
            "hide-from-user",
            r"\b(do not|don'?t|never)\b.{0,20}\b(tell|inform|mention|reveal|notify|show)\b.{0,20}"
            r"\b(user|human|anyone|them)\b",
            0.75,
        ),
        ("system-prompt", r"\b(system prompt|system message|developer message)\b", 0.45),
        (
            "exec-command",
            r"\b(run|execute|type|paste|enter)\b.{0,30}\b(command|following|this code|terminal|"
            r"shell|script)\b",
            0.45,
        ),
        ("pipe-to-shell", r"(curl|wget)\s[^|]{0,120}\|\s*(sudo\s+)?(ba)?sh\b", 0.7),
        (
            "navigate-to",
            r"\b(visit|navigate to|go to|open|click)\b.{0,40}\b(https?://|www\.|link|url)",
            0.3,
        ),
        (
            "send-data",
            r"\b(send|email|forward|upload|post|transfer)\b.{0,40}\b(password|credentials?|"
            r"api key|token|ssh key|cookies?|secrets?|files?|data|money|funds|bitcoin)\b",
            0.45,
        ),
        (
            "when-you-read",
            r"\b(when|if|once)\s+(you|the (ai|assistant|agent))\s+(read|see|process|encounter)",
            0.5,
        ),
        ("instead", r"\binstead,?\s+(you\s+)?(should|must|will|need to)\b", 0.45),
        (
            "attention-ai",
            r"\b(attention|note|message|instructions?|directive)\s+(to|for)\s+"
            r"((the|any|an?|all)\s+)?((automated|autonomous|computer[- ]use)\s+)?"
            r"(ai|assistant|agent|model|llm|claude)s?\b",
            0.8,
        ),
    )
)


STRONG_WEIGHT = 0.75

# Words a match of the rule must contain: a window holding none of them skips the regex
# (a substring test is about 30 times cheaper than a search). Rules not listed always run.
NEEDLES: dict[str, tuple[str, ...]] = {
    "ignore-instructions": ("ignore", "disregard", "forget", "override", "bypass"),
    "ignore-everything": ("ignore", "disregard", "forget"),
    "new-instructions": ("new", "updated", "real", "actual", "important", "urgent"),
    "you-are-now": ("you are now", "from now on", "act as"),
    "hide-from-user": ("not", "don", "never"),
    "system-prompt": ("system prompt", "system message", "developer message"),
    "exec-command": ("run", "execute", "type", "paste", "enter"),
    "pipe-to-shell": ("curl", "wget"),
    "navigate-to": ("visit", "navigate to", "go to", "open", "click"),
    "send-data": ("send", "email", "forward", "upload", "post", "transfer"),
    "when-you-read": ("read", "see", "process", "encounter"),
    "instead": ("instead",),
    "attention-ai": ("attention", "note", "message", "instruction", "directive"),
}


def rule_score(text: str) -> tuple[float, float, list[str]]:
    """Noisy-or of all matched rules, of the strong ones alone, and their names."""
    keep = keep_strong = 1.0
    names = []
    for name, pattern, weight in RULES:
        needles = NEEDLES.get(name)
        if needles and not any(needle in text for needle in needles):
            continue
        if pattern.search(text):
            keep *= 1.0 - weight
            if weight >= STRONG_WEIGHT:
                keep_strong *= 1.0 - weight
            names.append(name)
    return 1.0 - keep, 1.0 - keep_strong, names
