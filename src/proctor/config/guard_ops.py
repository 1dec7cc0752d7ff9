"""The operational parts of the `guards` section: the human review queue and the anomaly
circuit breaker. The guards section embeds them as `guards.review` and `guards.anomaly`.

    guards:
      review:
        timeout_s: 300             # a held request waits this long for a human decision ...
        default_decision: reject   # ... then this applies (approve or reject)
        poll_s: 1.0                # how often decisions made elsewhere (the CLI) are read,
                                   # only while this gateway holds requests
        preview_chars: 2000        # of the held text, redacted, shown to the reviewer
        max_pending: 100           # held requests beyond this get the default decision at once
        high_risk_features: [payments]   # requests of these features are held ...
        high_risk_rules: [injection]     # ... as are requests that trip these rules
      anomaly:
        enabled: true
        by: feature+model          # the scope counted apart: feature, model or feature+model
        window_s: 300              # sliding window of the rate
        buckets: 30                # its resolution (window_s / buckets seconds each)
        min_requests: 50           # no verdict on fewer requests than this in the window
        threshold: 0.2             # share of requests with a counted event that trips
        events: [block, toxicity, leak]
        safe_mode: strict          # strict, fallback (needs fallback_model) or static
        fallback_model: null
        static_answer: "This feature is temporarily unavailable."
        recover_after_s: 600       # open this long, then half-open (see guards/anomaly.py)
        max_scopes: 10000          # scopes tracked; idle ones are dropped first

Kept apart from the guards section itself so that each part validates (and grows) alone.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Literal, get_args

import msgspec

# What one guarded request can report to the breaker. "ok": nothing found; "block": a guard
# refused it; "flag" / "redact": a guard acted without refusing; the others are the detector
# families of proctor.guards.base.Kind, reported when one of them fired; "review": held.
Outcome = Literal[
    "ok",
    "block",
    "flag",
    "redact",
    "review",
    "injection",
    "pii",
    "secret",
    "toxicity",
    "leak",
    "topic",
    "invisible",
]
OUTCOMES: frozenset[str] = frozenset(get_args(Outcome))

SafeModeKind = Literal["strict", "fallback", "static"]
Decision = Literal["approve", "reject"]


class _Part(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    pass


class ReviewConfig(_Part, frozen=True):
    timeout_s: float = 300.0
    default_decision: Decision = "reject"
    poll_s: float = 1.0
    preview_chars: int = 2000
    # Held requests keep their in-flight slot (server.max_inflight) while they wait: bounded well
    # below it, so that requests built to trip a high-risk rule cannot fill the gateway.
    max_pending: int = 100
    high_risk_features: tuple[str, ...] = ()
    high_risk_rules: tuple[str, ...] = ()


class AnomalyConfig(_Part, frozen=True):
    enabled: bool = True
    by: Literal["feature", "model", "feature+model"] = "feature+model"
    window_s: float = 300.0
    buckets: int = 30
    min_requests: int = 50
    threshold: float = 0.2
    events: tuple[Outcome, ...] = ("block", "toxicity", "leak")
    safe_mode: SafeModeKind = "strict"
    fallback_model: str | None = None
    static_answer: str = "This feature is temporarily unavailable. Please try again later."
    recover_after_s: float = 600.0
    max_scopes: int = 10_000


def check_review(review: ReviewConfig, where: str = "$.guards.review") -> str | None:
    """The first problem with the section, naming its key; None when it is fine."""
    for name in ("timeout_s", "poll_s"):
        value = getattr(review, name)
        if not 0 < value <= 86_400:
            return f"`{where}.{name}` must be positive and at most a day, got {value}"
    for name in ("preview_chars", "max_pending"):
        if getattr(review, name) <= 0:
            return f"`{where}.{name}` must be positive"
    for name in ("high_risk_features", "high_risk_rules"):
        for i, value in enumerate(getattr(review, name)):
            if not value:
                return f"`{where}.{name}[{i}]` must not be empty"
    return None


def check_anomaly(
    anomaly: AnomalyConfig,
    models: Collection[str] | None = None,
    where: str = "$.guards.anomaly",
) -> str | None:
    """The first problem with the section, naming its key; None when it is fine.

    `models` (the configured public model names), when given, is what `fallback_model`
    must name."""
    for name in ("window_s", "recover_after_s"):
        if getattr(anomaly, name) <= 0:
            return f"`{where}.{name}` must be positive"
    if not 1 <= anomaly.buckets <= 3600:
        return f"`{where}.buckets` must be from 1 to 3600, got {anomaly.buckets}"
    for name in ("min_requests", "max_scopes"):
        if getattr(anomaly, name) <= 0:
            return f"`{where}.{name}` must be positive"
    if not 0 < anomaly.threshold <= 1:
        return f"`{where}.threshold` must be in (0, 1], got {anomaly.threshold}"
    if not anomaly.events:
        return f"`{where}.events` must name at least one outcome"
    if "ok" in anomaly.events:
        return f"`{where}.events` cannot count `ok` (every request would be an anomaly)"
    return _check_safe_mode(anomaly, models, where)


def _check_safe_mode(
    anomaly: AnomalyConfig, models: Collection[str] | None, where: str
) -> str | None:
    if anomaly.safe_mode == "fallback":
        if anomaly.fallback_model is None:
            return f"`{where}.fallback_model` is required when `safe_mode` is fallback"
        if models is not None and anomaly.fallback_model not in models:
            return (
                f"`{where}.fallback_model` names unknown model '{anomaly.fallback_model}' "
                f"(known: {', '.join(sorted(models))})"
            )
    if anomaly.safe_mode == "static" and not anomaly.static_answer.strip():
        return f"`{where}.static_answer` must not be empty when `safe_mode` is static"
    return None
