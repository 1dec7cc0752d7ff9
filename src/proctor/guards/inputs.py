"""Input guards over a chat request: which texts are read, what each check finds and does.

A request is cut into segments: each text a rule may read (a string content, a text part,
a tool call's arguments), with the message it belongs to, its source (system, user,
assistant, tool, documents) and its offset in that message's text. Checks run in plan
order over the segments of their sources; `strip` and `redact` rewrite a segment, so later
checks read the rewritten text (injection patterns hidden by zero-width characters are seen
once these are stripped). Offsets in findings are into the message's text as the rule read
it. Nothing here does I/O; the stage (stages/guard_in.py) decides what a block or a review
means for the request.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import msgspec

from proctor.context import Finding
from proctor.errors import ServiceUnavailable
from proctor.guards.base import Detection
from proctor.guards.placeholders import Placeholders
from proctor.guards.policy import Check
from proctor.wire.types import ChatRequest, Message

log = logging.getLogger("proctor.guards")
MEMO_MIN_CHARS = 200  # shorter texts cost less to scan than to look up
MEMO_SIZE = 4096  # texts remembered per check; then the memo starts again
# Findings recorded one by one per check and request; beyond, one finding counts the rest (a
# pasted spreadsheet of addresses would otherwise write thousands to the request log). All of
# them are still acted on: redacted, stripped, blocked.
MAX_FINDINGS_PER_CHECK = 100

_SOURCES = {
    "user": "user",
    "system": "system",
    "developer": "system",
    "assistant": "assistant",
    "tool": "tool",
    "function": "tool",
}


@dataclass(slots=True)
class Segment:
    message: int
    source: str
    offset: int  # in the message's text
    text: str
    part: int = -1  # content part index; -1: the content is a string
    call: int = -1  # tool call index (its arguments); -1: not a tool call
    changed: bool = False


def segments(request: ChatRequest) -> list[Segment]:
    """Every text of the request a guard may read, in message order."""
    found: list[Segment] = []
    seen_system = False
    for i, message in enumerate(request.messages):
        source = _SOURCES[message.role]
        if source == "system":
            # The first system message is the application's prompt; later ones are where
            # applications put retrieved context.
            source = "documents" if seen_system else "system"
            seen_system = True
        content = message.content
        offset = 0
        if isinstance(content, str):
            if content:
                found.append(Segment(i, source, 0, content))
            offset = len(content)
        elif content:
            for j, part in enumerate(content):
                text = part.get("text")
                if part.get("type") == "text" and isinstance(text, str):
                    if text:
                        found.append(Segment(i, source, offset, text, part=j))
                    offset += len(text)
        for k, call in enumerate(message.tool_calls or ()):
            if call.function.arguments:
                found.append(Segment(i, source, 0, call.function.arguments, call=k))
    return found


@dataclass(slots=True)
class InputScan:
    findings: list[Finding] = field(default_factory=list)
    blocked: Finding | None = None
    review: list[str] = field(default_factory=list)  # rules that want a human to look
    review_detections: list[Detection] = field(default_factory=list)
    placeholders: Placeholders = field(default_factory=Placeholders)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (rule, what went wrong)
    changed: bool = False
    # (type, value) of the personal data and secrets found: a review preview hides them
    # wherever they are. In this request's memory only, like the placeholders.
    hidden: list[tuple[str, str]] = field(default_factory=list)


_HIDDEN_KINDS = frozenset({"pii", "secret"})


def note_hidden(scan: InputScan, d: Detection, text: str) -> None:
    """Remember the value of a PII or secret detection in `text` (as it was scanned)."""
    if d.kind in _HIDDEN_KINDS and 0 <= d.start < d.end <= len(text):
        scan.hidden.append((d.type, text[d.start : d.end]))


class Failures:
    """Detector failures by rule. Logged at a rule's 1st, 2nd, 4th, 8th... failure, so that
    a broken detector is reported at once without flooding the log on every request."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def add(self, errors: Sequence[tuple[str, str]]) -> None:
        for rule, problem in errors:
            self.counts[rule] += 1
            n = self.counts[rule]
            if n & (n - 1) == 0:
                log.warning(
                    "guard %s failed (%s); %d failures so far, requests go on without it",
                    rule,
                    problem,
                    n,
                )


def note_failures(findings: list[Finding], stage: str, errors: Sequence[tuple[str, str]]) -> None:
    """A finding with action `error` for each rule whose detector failed on this request, so
    the request log, the header and the findings metric show which requests went on without
    that rule's verdict. Only the exception's type is kept: its message may quote the text."""
    for rule, problem in errors:
        kind = problem.split(":", 1)[0]
        findings.append(Finding(stage, rule, "error", detail=f"the detector failed ({kind})"))


def detect(check: Check, text: str, errors: list[tuple[str, str]]) -> Sequence[Detection]:
    """Run one detector; a failure degrades (reported in `errors`) unless the rule fails
    closed. A long text this check has seen before (the history of a conversation, sent
    again on each turn) is answered from its memo: detectors are pure functions."""
    memo = check.memo
    if memo is None or len(text) < MEMO_MIN_CHARS:
        return _run(check, text, errors)
    key = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
    found = memo.get(key)
    if found is None:
        failures = len(errors)
        found = _run(check, text, errors)
        if len(errors) > failures:
            return found  # a failure is not remembered
        if len(memo) >= MEMO_SIZE:
            memo.clear()
        memo[key] = found
    return found


def _run(check: Check, text: str, errors: list[tuple[str, str]]) -> Sequence[Detection]:
    try:
        return tuple(check.detect(text))
    except Exception as exc:
        errors.append((check.rule, f"{type(exc).__name__}: {exc}"))
        if check.fail_closed:
            raise ServiceUnavailable(
                f"the guard `{check.rule}` could not check this request and is configured "
                "fail-closed",
                code="guard_unavailable",
            ) from exc
        return ()


def finding(stage: str, check: Check, d: Detection, message: int | None, offset: int) -> Finding:
    return Finding(
        stage=stage,
        rule=check.rule,
        action=check.action,
        score=round(d.score, 4),
        detail=d.reason,
        kind=d.kind,
        type=d.type,
        message=message,
        start=offset + d.start,
        end=offset + d.end,
    )


def run_checks(
    checks: Sequence[Check], parts: list[Segment], scan: InputScan, stage: str = "guard_in"
) -> InputScan:
    """Apply `checks` in order to `parts` (rewritten in place); stops at the first block."""
    for check in checks:
        sources = check.sources
        recorded = unrecorded = 0
        for part in parts:
            if part.source not in sources:
                continue
            found = detect(check, part.text, scan.errors)
            if not found:
                continue
            first = len(scan.findings)
            for d in found:
                note_hidden(scan, d, part.text)
                if recorded < MAX_FINDINGS_PER_CHECK:
                    scan.findings.append(finding(stage, check, d, part.message, part.offset))
                    recorded += 1
                else:
                    unrecorded += 1
            recorded_now = len(scan.findings) > first
            if not recorded_now and check.action == "block" and scan.blocked is None:
                # Past the cap, the cause of a block is still recorded.
                scan.findings.append(finding(stage, check, found[0], part.message, part.offset))
                unrecorded -= 1
                recorded_now = True
            _act(check, part, found, scan, scan.findings[first] if recorded_now else None)
        if unrecorded:
            detail = f"{unrecorded} more detections acted on but not recorded one by one"
            scan.findings.append(Finding(stage, check.rule, check.action, detail=detail))
        if scan.blocked is not None:
            return scan
    return scan


def _act(
    check: Check,
    part: Segment,
    found: Sequence[Detection],
    scan: InputScan,
    cause: Finding | None,
) -> None:
    action = check.action
    if check.review:
        if check.rule not in scan.review:
            scan.review.append(check.rule)
        scan.review_detections.extend(found)
    if action == "block" and scan.blocked is None and cause is not None:
        scan.blocked = cause
    elif action == "strip":
        # Private-use characters are visible glyphs in icon fonts: reported, never removed.
        spans = [d for d in found if d.type != "PRIVATE_USE"]
        if spans:
            part.text = _remove(part.text, spans)
            part.changed = scan.changed = True
    elif action == "redact" and check.redactor is not None:
        text = check.redactor.redact(part.text, found, scan.placeholders)
        if text != part.text:
            part.text = text
            part.changed = scan.changed = True


def _remove(text: str, spans: Sequence[Detection]) -> str:
    pieces: list[str] = []
    at = 0
    for d in sorted(spans, key=lambda d: d.start):
        if d.end <= at:
            continue
        pieces.append(text[at : max(at, d.start)])
        at = d.end
    pieces.append(text[at:])
    return "".join(pieces)


def rebuild(request: ChatRequest, parts: Sequence[Segment]) -> ChatRequest:
    """The request with the rewritten segments in place; untouched messages are shared."""
    messages = list(request.messages)
    for part in parts:
        if part.changed:
            messages[part.message] = _rewrite(messages[part.message], part)
    return msgspec.structs.replace(request, messages=messages)


def _rewrite(message: Message, part: Segment) -> Message:
    if part.call >= 0:
        calls = list(message.tool_calls or ())
        call = calls[part.call]
        function = msgspec.structs.replace(call.function, arguments=part.text)
        calls[part.call] = msgspec.structs.replace(call, function=function)
        return msgspec.structs.replace(message, tool_calls=calls)
    if part.part < 0:
        return msgspec.structs.replace(message, content=part.text)
    assert isinstance(message.content, list)
    content = list(message.content)
    content[part.part] = {**content[part.part], "text": part.text}
    return msgspec.structs.replace(message, content=content)
