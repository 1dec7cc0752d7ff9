"""One finished request -> its trace spans, built after the fact from what the Context recorded.

Nothing here runs on the request path: the request only recorded when each stage started and
how long it took (`stage_start_ns`, `stage_ns`), its attempts, findings, usage and cost. From
those this module draws, with the OpenTelemetry GenAI conventions:

    chat {model}                 SERVER  the request, from arrival to the last byte sent
      identify                   INTERNAL one per pipeline stage; a stage inside another
        settle                            (the onion) is its child
          ...
            call
              chat {deployment model}   CLIENT one per provider attempt (failures, retries,
              chat {deployment model}          fallbacks, hedges), under the stage that made it

Stage and attempt spans of a streamed reply end when the stream was handed on (for an attempt:
at its first content); the root span lasts until the last chunk. Findings become
`gen_ai.evaluation.result` events on the span of the stage that made them.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import msgspec

from proctor.context import Attempt, Context, Finding
from proctor.guards.redact import redact_prefix
from proctor.telemetry import attributes as attrs
from proctor.telemetry.attributes import Attributes
from proctor.telemetry.content import input_messages

_LOW_64 = (1 << 64) - 1
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")


class SpanEvent(msgspec.Struct, frozen=True):
    name: str
    time_ns: int
    attributes: Attributes


class Span(msgspec.Struct, kw_only=True):
    trace_id: int
    span_id: int
    parent_id: int | None = None
    parent_remote: bool = False  # the parent is the caller's span, from its traceparent
    trace_state: str | None = None  # the caller's tracestate, passed along unchanged
    sampled: bool = True  # False when the caller's traceparent says so: not exported
    name: str
    kind: str  # "server", "client", "internal"
    start_ns: int
    end_ns: int
    status: str = "unset"  # "unset", "ok", "error"
    status_message: str | None = None
    attributes: Attributes = {}
    events: list[SpanEvent] = []


@dataclass(frozen=True, slots=True)
class Settings:
    """What the builder needs from the configuration."""

    capture_content: bool = False
    max_content_chars: int = 16_384
    sample_ratio: float = 1.0  # of traces without a caller's sampling decision
    # Provider instance name (config key) -> gen_ai.provider.name.
    provider_names: Mapping[str, str] = field(default_factory=dict)


def parse_traceparent(value: str | None) -> tuple[int, int, bool] | None:
    """(trace id, parent span id, sampled) of a valid W3C traceparent header, else None."""
    if not value:
        return None
    value = value.strip()
    # Version 00 is exactly 55 characters; a later version may append fields.
    match = _TRACEPARENT.fullmatch(value[:55])
    if match is None or (match.group(1) == "00" and len(value) != 55):
        return None
    version, trace_hex, span_hex, flags = match.groups()
    trace_id, span_id = int(trace_hex, 16), int(span_hex, 16)
    if version == "ff" or trace_id == 0 or span_id == 0 or (len(value) > 55 and value[55] != "-"):
        return None
    return trace_id, span_id, bool(int(flags, 16) & 1)


class SpanBuilder:
    def __init__(self, settings: Settings, rng: random.Random) -> None:
        self.settings = settings
        self.rng = rng

    def _span_id(self) -> int:
        return self.rng.getrandbits(64) or 1

    def build(self, ctx: Context) -> list[Span]:
        base = int(ctx.started_at * 1e9)  # epoch ns of ctx.started_ns
        end_offset = (ctx.finished_ns or ctx.started_ns) - ctx.started_ns
        headers = ctx.headers
        caller = parse_traceparent(headers.get("traceparent"))
        trace_id = caller[0] if caller else (self.rng.getrandbits(128) or 1)
        trace_state = headers.get("tracestate") if caller else None
        # Like OpenTelemetry's TraceIdRatioBased: the low 64 bits of the id against the ratio.
        sampled = caller[2] if caller else (trace_id & _LOW_64) < self.settings.sample_ratio * 2**64
        root = Span(
            trace_id=trace_id,
            span_id=self._span_id(),
            parent_id=caller[1] if caller else None,
            parent_remote=caller is not None,
            trace_state=trace_state,
            sampled=sampled,
            name=f"{ctx.operation} {ctx.request.model}".rstrip(),
            kind="server",
            start_ns=base,
            end_ns=base + max(end_offset, max(_stage_ends(ctx), default=0)),
            attributes=self._root_attributes(ctx),
        )
        if ctx.error is not None and ctx.status >= 500:
            root.status, root.status_message = "error", ctx.error
        stages = self._stage_spans(ctx, root, base)
        spans = [root, *stages.values()]
        for index, attempt in enumerate(ctx.attempts, 1):
            spans.append(self._attempt_span(ctx, attempt, index, root, stages, base))
        for finding in ctx.findings:
            owner = stages.get(finding.stage, root)
            owner.events.append(_evaluation_event(finding, owner.end_ns))
        return spans

    def _root_attributes(self, ctx: Context) -> Attributes:
        result = attrs.request_attributes(ctx)
        provider = ctx.provider
        if provider is not None:
            result[attrs.PROVIDER] = self.settings.provider_names.get(provider, provider)
        result.update(attrs.outcome_attributes(ctx))
        result.update(attrs.tag_attributes(ctx.tags))
        if self.settings.capture_content:
            result.update(input_messages(ctx.request, self.settings.max_content_chars))
        return result

    def _stage_spans(self, ctx: Context, root: Span, base: int) -> dict[str, Span]:
        """One span per stage; each the child of the innermost earlier stage containing it."""
        own_ms = ctx.stage_timings_ms()
        spans: dict[str, Span] = {}
        open_: list[Span] = []
        for name, duration in ctx.stage_ns.items():
            start = base + ctx.stage_start_ns.get(name, 0)
            end = start + duration
            while open_ and not (open_[-1].start_ns <= start and end <= open_[-1].end_ns):
                open_.pop()
            parent = open_[-1] if open_ else root
            span = Span(
                trace_id=root.trace_id,
                span_id=self._span_id(),
                parent_id=parent.span_id,
                trace_state=root.trace_state,
                sampled=root.sampled,
                name=name,
                kind="internal",
                start_ns=start,
                end_ns=end,
                attributes={attrs.STAGE: name, attrs.STAGE_OWN_MS: round(own_ms[name], 4)},
            )
            spans[name] = span
            open_.append(span)
        return spans

    def _attempt_span(
        self,
        ctx: Context,
        attempt: Attempt,
        index: int,
        root: Span,
        stages: dict[str, Span],
        base: int,
    ) -> Span:
        start = base + int(attempt.started_ms * 1e6)
        end = start + int(attempt.latency_ms * 1e6)
        # The innermost stage running when the attempt started (the call stage).
        parent = root
        for span in stages.values():
            if span.start_ns <= start <= span.end_ns:
                parent = span
        provider = self.settings.provider_names.get(attempt.provider, attempt.provider)
        won = attempt.status == 200 and attempt.deployment == ctx.deployment
        span = Span(
            trace_id=root.trace_id,
            span_id=self._span_id(),
            parent_id=parent.span_id,
            trace_state=root.trace_state,
            sampled=root.sampled,
            name=f"{ctx.operation} {attempt.model}",
            kind="client",
            start_ns=start,
            end_ns=end,
            attributes=attrs.attempt_attributes(
                ctx, attempt, index, provider, ctx.served_model if won else None
            ),
        )
        if attrs.failed(attempt):
            span.status, span.status_message = "error", attempt.error
        return span


def _stage_ends(ctx: Context) -> list[int]:
    return [ctx.stage_start_ns.get(name, 0) + ns for name, ns in ctx.stage_ns.items()]


def _evaluation_event(finding: Finding, time_ns: int) -> SpanEvent:
    event: Attributes = {
        attrs.EVALUATION_NAME: finding.rule,
        attrs.EVALUATION_LABEL: finding.action,
        attrs.FINDING_STAGE: finding.stage,
        attrs.FINDING_RULE: finding.rule,
        attrs.FINDING_ACTION: finding.action,
    }
    if finding.score is not None:
        event[attrs.EVALUATION_SCORE] = finding.score
        event[attrs.FINDING_SCORE] = finding.score
    if finding.detail:
        # A detail may quote what was found: it is redacted like captured content.
        event[attrs.EVALUATION_EXPLANATION] = redact_prefix(finding.detail, 1024)[0]
    return SpanEvent(attrs.EVALUATION_EVENT, time_ns, event)
