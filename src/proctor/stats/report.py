"""GET /admin/stats: totals, a zero-filled series and a top-20 breakdown of the request log.

Counts and sums come from SQL over the whole window. Percentiles and guard findings are
computed here, over at most SAMPLE_CAP rows of the window (the newest); `sampled` says when
that cap was reached. Percentiles are nearest-rank: the value at rank ceil(p/100 * n) of the
n sorted values, so every reported percentile is a latency that was actually observed.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import msgspec

from proctor.guards.replies import GUARD_STAGES
from proctor.stats.params import StatsQuery
from proctor.stats.sql import SAMPLE_CAP, aggregate, sample
from proctor.store.base import SpendStore

Key = str | None


def nearest_rank(sorted_values: list[float], p: float) -> float | None:
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


class _Sample:
    """Latencies and findings of one slice (all, one bucket, one key)."""

    def __init__(self) -> None:
        self.latency: list[float] = []
        self.ttft: list[float] = []
        self.guard_events = 0
        self.guard_blocks = 0
        self.refusals = 0

    def measures(self) -> dict[str, Any]:
        self.latency.sort()
        self.ttft.sort()
        return {
            "latency_p50_ms": nearest_rank(self.latency, 50),
            "latency_p95_ms": nearest_rank(self.latency, 95),
            "latency_p99_ms": nearest_rank(self.latency, 99),
            "ttft_p50_ms": nearest_rank(self.ttft, 50),
            "ttft_p95_ms": nearest_rank(self.ttft, 95),
            "guard_events": self.guard_events,
            "guard_blocks": self.guard_blocks,
            "refusals": self.refusals,
        }


class _Samples:
    def __init__(self, width: int) -> None:
        self.width = width
        self.total = _Sample()
        self.buckets: defaultdict[int, _Sample] = defaultdict(_Sample)
        self.keys: defaultdict[Key, _Sample] = defaultdict(_Sample)

    def slices(self, row: dict[str, Any]) -> tuple[_Sample, ...]:
        bucket = self.buckets[math.floor(row["started_at"] / self.width)]
        return (self.total, bucket, self.keys[row.get("grp")])

    def add_latency(self, rows: list[dict[str, Any]]) -> None:
        for row in rows[:SAMPLE_CAP]:
            for part in self.slices(row):
                part.latency.append(row["latency_ms"])
                if row["ttft_ms"] is not None:
                    part.ttft.append(row["ttft_ms"])

    def add_findings(self, rows: list[dict[str, Any]]) -> None:
        for row in rows[:SAMPLE_CAP]:
            findings = msgspec.json.decode(row["findings"])
            if not isinstance(findings, list):
                continue
            found = [f for f in findings if isinstance(f, dict)]
            refusals = sum(1 for f in found if f.get("rule") == "refusal")
            # Guard events are the guard stages' findings; other stages note other things
            # (the model refused, usage had to be estimated).
            guarded = [f for f in found if f.get("stage") in GUARD_STAGES]
            blocks = sum(1 for f in guarded if f.get("action") == "block")
            for part in self.slices(row):
                part.guard_events += len(guarded)
                part.guard_blocks += blocks
                part.refusals += refusals


def _ratio(part: float, whole: int) -> float | None:
    return part / whole if whole else None


def _summary(row: dict[str, Any] | None, measured: _Sample) -> dict[str, Any]:
    row = row or {}
    requests = int(row.get("n_requests") or 0)
    errors = int(row.get("n_errors") or 0)
    cache_hits = int(row.get("n_cache") or 0)
    feedback_count = int(row.get("n_feedback") or 0)
    feedback_sum = row.get("sum_feedback")
    return {
        "requests": requests,
        "errors": errors,
        "client_errors": int(row.get("n_client") or 0),
        "error_rate": _ratio(errors, requests),
        "cost_usd": float(row.get("sum_cost") or 0.0),
        "prompt_tokens": int(row.get("sum_prompt") or 0),
        "completion_tokens": int(row.get("sum_completion") or 0),
        **measured.measures(),
        "refusal_rate": _ratio(measured.refusals, requests),
        "cache_hits": cache_hits,
        "cache_hit_rate": _ratio(cache_hits, requests),
        "feedback_count": feedback_count,
        "feedback_mean": (
            float(feedback_sum) / feedback_count
            if feedback_count and feedback_sum is not None
            else None
        ),
    }


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


async def stats_report(store: SpendStore, query: StatsQuery) -> dict[str, Any]:
    style = store.paramstyle
    statements = [
        aggregate(query, style, "total"),
        aggregate(query, style, "bucket"),
        sample(query, style, "latency"),
        sample(query, style, "findings"),
    ]
    if query.by is not None:
        statements.append(aggregate(query, style, "key"))
    results = await store.read_rows([(s.sql, s.params) for s in statements])
    totals, buckets, latency, findings = results[:4]
    samples = _Samples(query.bucket_seconds)
    samples.add_latency(latency)
    samples.add_findings(findings)

    width = query.bucket_seconds
    by_index = {int(row["grp"]): row for row in buckets}
    first, last = math.floor(query.since / width), math.floor(query.until / width)
    series = [
        {
            "start": index * width,
            "start_iso": _iso(index * width),
            **_summary(by_index.get(index), samples.buckets.get(index, _Sample())),
        }
        for index in range(first, last + 1)
    ]
    breakdown = [
        {"key": row["grp"], **_summary(row, samples.keys.get(row["grp"], _Sample()))}
        for row in (results[4] if query.by is not None else [])
    ]
    return {
        "since": query.since,
        "until": query.until,
        "bucket_seconds": width,
        "by": query.by,
        "sampled": len(latency) > SAMPLE_CAP or len(findings) > SAMPLE_CAP,
        "totals": _summary(totals[0] if totals else None, samples.total),
        "series": series,
        "breakdown": breakdown,
    }
