"""GET /admin/topics: per topic, the window's volume, cost, latency, guard findings and
feedback, its growth against the previous equal window, and the `new` / `growing` flags.

One read snapshot: the topics, and the assigned requests of the window and the one before
it (at most SAMPLE_CAP rows, newest first; `truncated` says when the cap was hit).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from proctor.spend.params import parse_since
from proctor.spend.sql import _Binder
from proctor.stats.report import nearest_rank
from proctor.store.base import SpendStore

SAMPLE_CAP = 200_000


@dataclass(frozen=True, slots=True)
class TopicsQuery:
    since: float
    until: float
    growing_factor: float = 2.0
    growing_min_requests: int = 10

    @property
    def previous(self) -> float:
        return self.since - (self.until - self.since)


def topics_query(
    params: Mapping[str, str | None],
    *,
    now: float | None = None,
    growing_factor: float = 2.0,
    growing_min_requests: int = 10,
) -> TopicsQuery:
    until = time.time() if now is None else now
    since = parse_since(params.get("since") or "24h", until)
    return TopicsQuery(since, until, growing_factor, growing_min_requests)


def _statements(query: TopicsQuery, paramstyle: str) -> list[tuple[str, tuple[object, ...]]]:
    bind = _Binder(paramstyle)
    window = f"r.started_at >= {bind(query.previous)} AND r.started_at <= {bind(query.until)}"
    feedback = (
        "SELECT request_id, COUNT(*) AS fb_n, SUM(score) AS fb_sum FROM feedback "
        "GROUP BY request_id"
    )
    rows = bind.statement(
        "SELECT a.topic_id, r.started_at, r.latency_ms, r.cost_usd, r.findings, "
        "fb.fb_n, fb.fb_sum FROM topic_assignments AS a "
        "JOIN requests AS r ON r.id = a.request_id "
        f"LEFT JOIN ({feedback}) AS fb ON fb.request_id = a.request_id "
        f"WHERE {window} ORDER BY r.started_at DESC LIMIT {bind(SAMPLE_CAP + 1)}"
    )
    topics = "SELECT id, label, created_at, count FROM topics"
    return [(rows.sql, rows.params), (topics, ())]


@dataclass(slots=True)
class _Tally:
    requests: int = 0
    previous: int = 0
    cost: float = 0.0
    latencies: list[float] = field(default_factory=list)
    guard_events: int = 0
    feedback_count: int = 0
    feedback_sum: float = 0.0

    def add(self, row: dict[str, Any]) -> None:
        self.requests += 1
        self.cost += row["cost_usd"] or 0.0
        self.latencies.append(float(row["latency_ms"]))
        findings = msgspec.json.decode(row["findings"] or "[]")
        self.guard_events += len(findings) if isinstance(findings, list) else 0
        self.feedback_count += int(row["fb_n"] or 0)
        self.feedback_sum += float(row["fb_sum"] or 0.0)


def _entry(topic: dict[str, Any], tally: _Tally, query: TopicsQuery) -> dict[str, Any]:
    latencies = sorted(tally.latencies)
    growth = tally.requests / tally.previous if tally.previous else None
    new = topic["created_at"] >= query.since
    growing = tally.requests >= query.growing_min_requests and (
        growth is None or growth >= query.growing_factor
    )
    return {
        "id": topic["id"],
        "label": topic["label"],
        "requests": tally.requests,
        "requests_total": topic["count"],
        "previous_requests": tally.previous,
        "cost_usd": round(tally.cost, 10),
        "latency_p50_ms": nearest_rank(latencies, 50),
        "latency_p95_ms": nearest_rank(latencies, 95),
        "guard_events": tally.guard_events,
        "feedback_count": tally.feedback_count,
        "feedback_mean": (
            tally.feedback_sum / tally.feedback_count if tally.feedback_count else None
        ),
        "first_seen": topic["created_at"],
        "growth": growth,
        "new": new,
        "growing": growing,
    }


async def topics_report(store: SpendStore, query: TopicsQuery) -> dict[str, Any]:
    rows, topics = await store.read_rows(_statements(query, store.paramstyle))
    truncated = len(rows) > SAMPLE_CAP
    tallies: dict[str, _Tally] = {}
    for row in rows[:SAMPLE_CAP]:
        tally = tallies.setdefault(row["topic_id"], _Tally())
        if row["started_at"] >= query.since:
            tally.add(row)
        else:
            tally.previous += 1
    data = [
        _entry(topic, tallies.get(topic["id"], _Tally()), query)
        for topic in topics
        if topic["id"] in tallies or topic["created_at"] >= query.since
    ]
    data.sort(key=lambda e: (-e["requests"], e["id"]))
    return {
        "since": query.since,
        "until": query.until,
        "topics": len(topics),
        "truncated": truncated,
        "data": data,
    }
