"""The records the gateway writes: one row per request, built from its Context."""

from __future__ import annotations

import time
import uuid
from typing import Any

import msgspec

from proctor.context import Context

_encoder = msgspec.json.Encoder()


class RequestRecord(msgspec.Struct, frozen=True):
    id: str
    started_at: float
    api: str
    operation: str
    stream: bool
    status: int
    public_model: str
    latency_ms: float
    ttft_ms: float | None = None
    error: str | None = None
    tenant: str | None = None
    team: str | None = None
    user: str | None = None
    feature: str | None = None
    endpoint: str | None = None
    session: str | None = None
    environment: str | None = None
    key_id: str | None = None
    deployment: str | None = None
    provider: str | None = None
    served_model: str | None = None
    system_fingerprint: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int | None = None
    cache_creation_tokens: int | None = None
    reasoning_tokens: int | None = None
    cost_usd: float | None = None
    stage_ms: str = "{}"  # JSON object, stage -> exclusive milliseconds
    stage_start_ms: str = "{}"  # JSON object, stage -> start, ms after the request arrived
    attempts: str = "[]"  # JSON array of attempts
    findings: str = "[]"  # JSON array of findings


COLUMNS: tuple[str, ...] = RequestRecord.__struct_fields__


def record_of(ctx: Context) -> RequestRecord:
    tags = ctx.tags
    usage = ctx.usage
    return RequestRecord(
        id=ctx.request_id,
        started_at=ctx.started_at,
        api=ctx.api,
        operation=ctx.operation,
        stream=ctx.stream,
        status=ctx.status,
        public_model=ctx.public_model or getattr(ctx.request, "model", ""),
        latency_ms=round(ctx.latency_ms, 3),
        ttft_ms=round(ctx.ttft_ms, 3) if ctx.ttft_ms is not None else None,
        error=ctx.error,
        tenant=tags.tenant,
        team=tags.team,
        user=tags.user,
        feature=tags.feature,
        endpoint=tags.endpoint,
        session=tags.session,
        environment=tags.environment,
        key_id=tags.key_id,
        deployment=ctx.deployment,
        provider=ctx.provider,
        served_model=ctx.served_model,
        system_fingerprint=ctx.system_fingerprint,
        prompt_tokens=usage.prompt_tokens if usage else None,
        completion_tokens=usage.completion_tokens if usage else None,
        cached_tokens=usage.cached_tokens if usage else None,
        cache_creation_tokens=usage.cache_creation_tokens if usage else None,
        reasoning_tokens=usage.reasoning_tokens if usage else None,
        cost_usd=ctx.cost_usd,
        stage_ms=_encoder.encode(
            {k: round(v, 4) for k, v in ctx.stage_timings_ms().items()}
        ).decode(),
        stage_start_ms=_encoder.encode(
            {k: round(v / 1e6, 4) for k, v in ctx.stage_start_ns.items()}
        ).decode(),
        attempts=_encoder.encode(ctx.attempts).decode(),
        findings=_encoder.encode(ctx.findings).decode(),
    )


class EventRecord(msgspec.Struct, frozen=True):
    """Something an operator should know about: a served model changed, a budget crossed."""

    id: str
    at: float
    kind: str
    subject: str
    detail: str  # JSON object

    @classmethod
    def create(cls, kind: str, subject: str, detail: dict[str, Any]) -> EventRecord:
        return cls(
            id=uuid.uuid4().hex,
            at=time.time(),
            kind=kind,
            subject=subject,
            detail=_encoder.encode(detail).decode(),
        )


EVENT_COLUMNS: tuple[str, ...] = EventRecord.__struct_fields__


class FeedbackRecord(msgspec.Struct, frozen=True):
    """One rating of one request. (request_id, channel) is unique: a new rating replaces it."""

    request_id: str
    channel: str  # "api" (with a key) or "browser" (with the response's feedback token)
    id: str
    created_at: float
    score: float  # -1..1
    comment: str | None = None
    metadata: str = "{}"  # JSON object
    rated_by: str | None = None  # the key id, "admin", or None (open host, browser)


FEEDBACK_COLUMNS: tuple[str, ...] = FeedbackRecord.__struct_fields__
Record = RequestRecord | EventRecord | FeedbackRecord
