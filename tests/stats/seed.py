"""A hand-made request log at known times, shared by the stats tests.

BASE is an hour boundary (2023-11-14T22:00:00Z); reports are asked for at NOW = BASE + 2h30m
with since=BASE, so the series has three hourly buckets, the middle one empty.
"""

from __future__ import annotations

from pathlib import Path

from proctor.store.records import EventRecord, FeedbackRecord, RequestRecord
from proctor.store.spans import SpanRecord
from proctor.store.sqlite import SQLiteStore

HOUR = 3600.0
BASE = 472_222 * HOUR
NOW = BASE + 2.5 * HOUR
SINCE = "2023-11-14T22:00:00Z"
TRACE = "ab" * 16
FINDINGS = (
    '[{"stage":"guard_in","rule":"pii","action":"block"},'
    '{"stage":"guard_out","rule":"toxicity","action":"flag"}]'
)


def record(
    id: str, at: float, model: str, status: int, latency: float, **kw: object
) -> RequestRecord:
    fields: dict[str, object] = {
        "api": "openai",
        "operation": "chat",
        "stream": False,
        "endpoint": "/ask",
        **kw,
    }
    return RequestRecord(
        id=id,
        started_at=at,
        status=status,
        public_model=model,
        latency_ms=latency,
        **fields,  # type: ignore[arg-type]
    )


REQUESTS = [
    record("a1", BASE + 100, "m1", 200, 100.0, ttft_ms=10.0, cost_usd=0.5, prompt_tokens=10,
           completion_tokens=5, user="alice", feature="chat", findings=FINDINGS,
           stage_ms='{"route": 0.5}', attempts='[{"deployment": "sim/m1"}]'),
    record("a2", BASE + 200, "m1", 500, 200.0, cost_usd=0.25, prompt_tokens=20,
           completion_tokens=0, user="bob", feature="search"),
    record("a3", BASE + 2 * HOUR + 10, "m2", 404, 300.0, ttft_ms=30.0, feature="chat"),
    record("a4", BASE + 2 * HOUR + 20, "m1", 200, 400.0, ttft_ms=40.0, cost_usd=0.125,
           prompt_tokens=1, completion_tokens=1, session="sess-1", endpoint="/other"),
    # Before the window: only in unfiltered request lists.
    record("old", BASE - 10 * HOUR, "m1", 200, 5000.0, cost_usd=8.0, user="alice"),
]  # fmt: skip


def feedback(request_id: str, channel: str, score: float) -> FeedbackRecord:
    return FeedbackRecord(
        request_id=request_id,
        channel=channel,
        id=f"fb-{request_id}-{channel}",
        created_at=NOW,
        score=score,
        metadata='{"k": 1}',
    )


FEEDBACK = [
    feedback("a1", "api", 1.0),
    feedback("a1", "browser", -0.5),
    feedback("a4", "api", 0.5),
    feedback("old", "api", 1.0),
]
EVENTS = [
    EventRecord(id="e1", at=BASE + 10, kind="alert", subject="cost", detail='{"usd": 1}'),
    EventRecord(id="e2", at=BASE + 20, kind="drill_failed", subject="m1", detail="{}"),
    EventRecord(id="e3", at=BASE - 5 * HOUR, kind="alert", subject="old", detail="{}"),
]


def span(span_id: str, parent: str | None, start_ns: int, request_id: str | None) -> SpanRecord:
    return SpanRecord(
        trace_id=TRACE,
        span_id=span_id,
        parent_id=parent,
        request_id=request_id,
        session=None,
        name="gateway" if parent is None else "upstream",
        kind="server",
        start_ns=start_ns,
        end_ns=start_ns + 2_000_000,
        status="ok",
        status_message=None,
        attributes='{"a": 1}',
        events="[]",
    )


SPANS = [
    span("1" * 16, None, int((BASE + 100) * 1e9), "a1"),
    span("2" * 16, "1" * 16, int((BASE + 100) * 1e9) + 1000, None),
]


async def seeded_store(path: Path) -> SQLiteStore:
    store = SQLiteStore(f"sqlite:///{path}")
    await store.open()
    await store.write_batch([*REQUESTS, *FEEDBACK, *EVENTS])
    await store.write_spans(SPANS)
    return store
