"""What a guard decision looks like to the caller: the block error, a refusal or static
answer in the API's own shape (streams too), and the `x-proctor-guard` header."""

from __future__ import annotations

import time
from collections.abc import Sequence

from proctor.context import ChatStream, Finding
from proctor.errors import BadRequest
from proctor.wire.answers import own_answer
from proctor.wire.types import (
    ChatRequest,
    ChatResponse,
)

GUARD_STAGES = frozenset({"guard_in", "guard_out"})
HEADER = "x-proctor-guard"


class GuardBlocked(BadRequest):
    """A guard refused the request: 400, `invalid_request_error` with code
    `content_policy_violation` (Anthropic: `invalid_request_error`)."""

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message, code="content_policy_violation", headers=headers)


def describe(finding: Finding) -> str:
    """Why a request was blocked, naming the rule and where, never the value found."""
    what = f"{finding.kind or finding.rule} ({finding.type})" if finding.type else finding.rule
    where = ""
    if finding.message is not None:
        where = f" in message {finding.message}"
    elif finding.stage == "guard_out":
        where = " in the reply"
    reason = f": {finding.detail}" if finding.detail and finding.kind != "pii" else ""
    return f"blocked by the guard rule `{finding.rule}`: {what}{where}{reason}"


def answer(
    request: ChatRequest, model: str, text: str, finish: str, *, served: str = "proctor/guard"
) -> ChatResponse | ChatStream:
    """An assistant answer proctor gives itself (a refusal, a static safe-mode answer),
    streamed when the request streams; the wire layer turns it into the API's shape."""
    return own_answer(
        request,
        ident="chatcmpl-proctor-guard",
        served=served,
        text=text,
        finish=finish,
        created=int(time.time()),
    )


def summary(findings: Sequence[Finding]) -> str | None:
    """`x-proctor-guard`: each rule with its action and, past one, the count:
    `injection=flag;pii=redact:2`. None when no guard found anything."""
    counts: dict[tuple[str, str], int] = {}
    for f in findings:
        if f.stage in GUARD_STAGES:
            key = (f.rule, f.action)
            counts[key] = counts.get(key, 0) + 1
    if not counts:
        return None
    return ";".join(
        f"{rule}={action}" if n == 1 else f"{rule}={action}:{n}"
        for (rule, action), n in counts.items()
    )


def outcomes(findings: Sequence[Finding]) -> list[str]:
    """What the anomaly breaker counts for a request: the actions taken and the detector
    kinds that fired (`block`, `injection`...); empty when the guards found nothing."""
    found: list[str] = []
    for f in findings:
        if f.stage not in GUARD_STAGES:
            continue
        if f.rule == "review":  # approve / reject: held, and blocked when rejected
            pair = ("review", "block" if f.action == "reject" else None)
        else:
            pair = (f.action, f.kind)
        for outcome in pair:
            if outcome is not None and outcome not in found:
                found.append(outcome)
    return found
