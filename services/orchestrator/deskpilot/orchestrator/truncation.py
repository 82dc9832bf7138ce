"""Keeping what the model reads of one tool result within a bound.

A 3 MB file view or a flood of bash output would otherwise reach the model whole: the
request grows past what the API accepts, and every later turn pays for it again. The
reference implementation cuts results at 16,000 characters; we do too by default, keeping
the head and the tail (the end of a log or a file is often what matters) and saying in the
text itself what was cut, so the model knows it saw only part.
"""

from __future__ import annotations

DEFAULT_MAX_RESULT_CHARACTERS = 16_000
# A cut moves to a line break when one is this close, so lines are not split.
_LINE_SNAP = 200
_NOTE = "[output truncated: showed the first {head} and last {tail} of {total} characters{hint}]"


# A status reason may quote an error: it is kept short, so a record and its event always fit.
MAX_STATUS_REASON_CHARACTERS = 2_000


def status_reason(reason: str) -> str:
    """`reason`, cut to MAX_STATUS_REASON_CHARACTERS."""
    return bounded(reason, MAX_STATUS_REASON_CHARACTERS)


def bounded(text: str, limit: int, *, hint: str = "") -> str:
    """`text` if it has at most `limit` characters; otherwise its head and tail around a
    note saying how much of how much was shown, `limit` characters in all.

    `hint` (e.g. "; view a line range to see the rest") ends the note.
    """
    if len(text) <= limit:
        return text
    total = len(text)
    suffix = f"; {hint}" if hint else ""
    # The longest the note can be: numbers no wider than the total.
    widest = len(_NOTE.format(head=total, tail=total, total=total, hint=suffix)) + 2
    room = limit - widest
    if room <= 0:  # a limit too small for the note: keep what fits
        return text[:limit]
    head = _head(text, room - room // 2)
    tail = _tail(text, room // 2)
    note = _NOTE.format(head=len(head), tail=len(tail), total=total, hint=suffix)
    before = "" if head.endswith("\n") or not head else "\n"
    return f"{head}{before}{note}\n{tail}" if tail else f"{head}{before}{note}"


def _head(text: str, size: int) -> str:
    head = text[:size]
    cut = head.rfind("\n")
    return head[: cut + 1] if cut >= 0 and cut >= size - _LINE_SNAP else head


def _tail(text: str, size: int) -> str:
    if size <= 0:
        return ""
    tail = text[-size:]
    cut = tail.find("\n")
    return tail[cut + 1 :] if 0 <= cut < _LINE_SNAP else tail
