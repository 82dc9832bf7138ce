"""Prometheus metrics of the display executor (served on the service's `/metrics`)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

_FAST_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)

ACTION_SECONDS = Histogram(
    "deskpilot_display_action_seconds",
    "Time to perform one action, settle and encode its screenshot, by action.",
    ["action"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
ACTION_ERRORS = Counter(
    "deskpilot_display_action_errors_total",
    "Actions rejected or failed, by action and reason.",
    ["action", "reason"],
)
CAPTURES = Counter("deskpilot_display_captures_total", "Screen captures taken.")
CAPTURE_SECONDS = Histogram(
    "deskpilot_display_capture_seconds", "Time to capture the screen.", buckets=_FAST_BUCKETS
)
ENCODE_SECONDS = Histogram(
    "deskpilot_display_encode_seconds",
    "Time to scale and encode a screenshot, by format.",
    ["format"],
    buckets=_FAST_BUCKETS,
)
ENCODE_CACHE_HITS = Counter(
    "deskpilot_display_encode_cache_hits_total",
    "Screenshots served from the cached encoding of an unchanged frame.",
)
SETTLE_SECONDS = Histogram(
    "deskpilot_display_settle_seconds",
    "Time waiting for the screen to settle after input.",
    buckets=_FAST_BUCKETS,
)
SETTLES = Counter(
    "deskpilot_display_settles_total",
    "Settle waits by what ended them: no_change (nothing changed), small_change (still for "
    "the short quiet after a small change), quiet (still for the quiet period), limit.",
    ["ended_by"],
)
SETTLE_TIMEOUTS = Counter(
    "deskpilot_display_settle_timeouts_total",
    "Actions whose settle wait hit its upper bound while the screen still changed.",
)
