"""Spend reports: run the statements of a query on a store and shape the rows into a report.

The report is the one machine-readable shape behind `proctor spend --json` and
`GET /admin/spend`; the CLI's tables are drawn from it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

from proctor.spend import sql
from proctor.spend.params import SpendQuery
from proctor.store.base import SpendStore

# Summing floats in a different order (or subtracting the top groups from the total) leaves
# noise around the 16th digit; twelve decimals keep a millionth of a cent and drop the noise.
_COST_DECIMALS = 12


class Totals(msgspec.Struct, frozen=True):
    requests: int
    errors: int  # status >= 400
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    cost_usd: float  # known costs only: requests without a cost add nothing here
    unknown_cost_requests: int  # requests logged without a cost (no usage, or no price)
    cost_per_1k_requests: float | None  # cost_usd * 1000 / requests; None when no requests


class Group(Totals, frozen=True):
    key: dict[str, str | None]  # dimension -> value; None where the request had no such tag


class Bucket(Totals, frozen=True):
    start: float  # epoch seconds, UTC-aligned to the bucket width
    start_iso: str


class SpendReport(msgspec.Struct, frozen=True):
    since: float
    since_iso: str
    until: float
    until_iso: str
    window: str  # `since` as given: "24h" or an ISO time
    by: list[str]
    top: int
    series_bucket: str | None
    bucket_seconds: int | None
    totals: Totals
    groups: list[Group]  # at most `top`, by cost descending
    groups_total: int  # how many groups there are in all
    other: Totals | None  # the groups beyond the top N, summed; None when none were left out
    series: list[Bucket]  # every bucket in the window, empty ones included


def iso(at: float) -> str:
    # Whole seconds: the epoch field beside each ISO one keeps the exact value.
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _cost_per_1k(cost: float, requests: int) -> float | None:
    return round(cost * 1000 / requests, _COST_DECIMALS) if requests else None


def _totals(row: dict[str, Any]) -> Totals:
    # int()/float(): PostgreSQL returns bigint sums as int but numeric ones as Decimal.
    requests = int(row["n_requests"])
    cost = round(float(row["sum_cost"]), _COST_DECIMALS)
    return Totals(
        requests=requests,
        errors=int(row["n_errors"]),
        prompt_tokens=int(row["sum_prompt"]),
        completion_tokens=int(row["sum_completion"]),
        cached_tokens=int(row["sum_cached"]),
        cost_usd=cost,
        unknown_cost_requests=int(row["n_unknown_cost"]),
        cost_per_1k_requests=_cost_per_1k(cost, requests),
    )


def _fields(totals: Totals) -> dict[str, Any]:
    return msgspec.structs.asdict(totals)


def _group(row: dict[str, Any], by: tuple[str, ...]) -> Group:
    key = {name: _text(row[f"g{i}"]) for i, name in enumerate(by)}
    return Group(key=key, **_fields(_totals(row)))


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _rest(total: Totals, shown: list[Group]) -> Totals:
    """What the top N left out: the total minus the groups shown."""
    requests = total.requests - sum(g.requests for g in shown)
    cost = round(total.cost_usd - sum(g.cost_usd for g in shown), _COST_DECIMALS)
    return Totals(
        requests=requests,
        errors=total.errors - sum(g.errors for g in shown),
        prompt_tokens=total.prompt_tokens - sum(g.prompt_tokens for g in shown),
        completion_tokens=total.completion_tokens - sum(g.completion_tokens for g in shown),
        cached_tokens=total.cached_tokens - sum(g.cached_tokens for g in shown),
        cost_usd=max(cost, 0.0),
        unknown_cost_requests=total.unknown_cost_requests
        - sum(g.unknown_cost_requests for g in shown),
        cost_per_1k_requests=_cost_per_1k(max(cost, 0.0), requests),
    )


_EMPTY = Totals(0, 0, 0, 0, 0, 0.0, 0, None)


def _series(query: SpendQuery, rows: list[dict[str, Any]]) -> list[Bucket]:
    """Every bucket from the one holding `since` to the one holding `until`, zeros included."""
    width = query.bucket_seconds
    if width is None:
        return []
    found = {int(row["bucket_index"]): _totals(row) for row in rows}
    first, last = int(query.since // width), int(query.until // width)
    indexes = sorted(set(range(first, last + 1)) | set(found))
    return [
        Bucket(start=float(i * width), start_iso=iso(i * width), **_fields(found.get(i, _EMPTY)))
        for i in indexes
    ]


def shape(query: SpendQuery, results: dict[str, list[dict[str, Any]]]) -> SpendReport:
    totals = _totals(results["totals"][0])
    groups = [_group(row, query.by) for row in results.get("groups", [])]
    count_rows = results.get("group_count")
    groups_total = int(count_rows[0]["n_groups"]) if count_rows else 0
    other = _rest(totals, groups) if groups_total > len(groups) else None
    return SpendReport(
        since=query.since,
        since_iso=iso(query.since),
        until=query.until,
        until_iso=iso(query.until),
        window=query.since_text,
        by=list(query.by),
        top=query.top,
        series_bucket=query.series,
        bucket_seconds=query.bucket_seconds,
        totals=totals,
        groups=groups,
        groups_total=groups_total,
        other=other,
        series=_series(query, results.get("series", [])),
    )


async def spend_report(store: SpendStore, query: SpendQuery) -> SpendReport:
    """Run the query's statements in one snapshot on the store's own thread, and shape them."""
    statements = sql.plan(query, store.paramstyle)
    rows = await store.read_rows(list(statements.values()))
    return shape(query, dict(zip(statements, rows, strict=True)))
