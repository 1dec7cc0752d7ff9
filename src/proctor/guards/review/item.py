"""A request held for human review, and the decision on it.

What is stored is what a reviewer needs to decide, never the raw sensitive values: the held
text is kept only as a preview in which every PII or secret span a guard found, and every
value the generic redactor recognises, is replaced by its label ([EMAIL], [CARD]...).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from typing import Literal

import msgspec

from proctor.config.guard_ops import Decision
from proctor.guards.base import Detection
from proctor.guards.redact import redact_prefix

Stage = Literal["input", "output"]
Status = Literal["pending", "approved", "rejected", "expired"]
STATUSES: tuple[Status, ...] = ("pending", "approved", "rejected", "expired")
# Detection kinds whose spans are values to hide; the others (injection, toxicity...) are
# the very text the reviewer has to read.
_HIDDEN_KINDS = frozenset({"pii", "secret"})


class ReviewFinding(msgspec.Struct, frozen=True, kw_only=True):
    """One guard finding, as shown to the reviewer: where and what, not the value."""

    kind: str
    type: str
    start: int
    end: int
    score: float = 1.0
    reason: str | None = None


class ReviewItem(msgspec.Struct, frozen=True, kw_only=True):
    id: str  # "rev_" + 12 hex
    request_id: str
    stage: Stage
    rules: tuple[str, ...]  # the rules whose action was `review` (or the high-risk trigger)
    created_at: float  # unix time
    expires_at: float  # then `default_decision` applies
    default_decision: Decision
    preview: str  # the held text, redacted and cut to `review.preview_chars`
    findings: tuple[ReviewFinding, ...] = ()
    feature: str | None = None
    model: str | None = None
    key_id: str | None = None
    user: str | None = None
    tenant: str | None = None
    status: Status = "pending"
    decision: Decision | None = None  # set with the status; an expired item's is the default
    decided_by: str | None = None  # "operator:<who>", "timeout", "shutdown"
    decided_at: float | None = None
    reason: str | None = None

    def public(self) -> dict[str, object]:
        shown = msgspec.to_builtins(self)
        assert isinstance(shown, dict)
        return {"object": "review", **shown}


class ReviewDecision(msgspec.Struct, frozen=True, kw_only=True):
    """What `ReviewQueue.hold` returns: go on with the request (approve) or refuse it."""

    review_id: str
    decision: Decision
    decided_by: str  # "operator:<who>", "timeout", "shutdown", "overflow", "unavailable"
    reason: str | None = None

    @property
    def approved(self) -> bool:
        return self.decision == "approve"


class ReviewNotFound(LookupError):
    """No review item has that id."""


class ReviewConflict(Exception):
    """The item was already decided, or expired: `item` is its current state."""

    def __init__(self, item: ReviewItem) -> None:
        state = "expired" if item.status == "expired" else f"already {item.status}"
        by = f" by {item.decided_by}" if item.decided_by else ""
        super().__init__(f"review {item.id} is {state}{by}")
        self.item = item


def new_review_id() -> str:
    return "rev_" + secrets.token_hex(6)


def preview_of(
    text: str,
    detections: Iterable[Detection],
    limit: int,
    hidden: Iterable[tuple[str, str]] = (),
) -> str:
    """`text` with the PII / secret spans of `detections`, every occurrence of the `hidden`
    (type, value) pairs and anything `redact_text` finds replaced by labels, cut to about
    `limit` characters (before any value crossing the cut, so that no half of one is left
    unrecognised)."""
    spans = sorted(
        (d.start, d.end, d.type)
        for d in detections
        if d.kind in _HIDDEN_KINDS and 0 <= d.start < d.end <= len(text)
    )
    parts: list[str] = []
    at = 0
    for start, end, label in spans:
        if start < at:  # overlaps the previous span: already hidden up to `at`
            start = at
            if start >= end:
                continue
            parts.append(text[at:start])
        else:
            parts.append(text[at:start])
            parts.append(f"[{label}]")
        at = end
    parts.append(text[at:])
    shown = "".join(parts)
    # Longest first, so that a value inside another is not replaced half-way.
    for label, value in sorted(set(hidden), key=lambda h: -len(h[1])):
        if value.strip():
            shown = shown.replace(value, f"[{label}]")
    redacted, cut = redact_prefix(shown, limit)
    return redacted + "…" if cut else redacted


def findings_of(detections: Sequence[Detection]) -> tuple[ReviewFinding, ...]:
    return tuple(
        ReviewFinding(
            kind=d.kind, type=d.type, start=d.start, end=d.end, score=d.score, reason=d.reason
        )
        for d in detections
    )
