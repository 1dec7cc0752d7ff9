"""GET /admin/feedback: ratings joined to their requests, and aggregates by model and feature.

Like the spend report, every statement is read-only, portable (SQLite and PostgreSQL), and
binds every value; identifiers come only from the constants below.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from proctor.spend.sql import Statement, _Binder
from proctor.store.base import FeedbackStore

MAX_LIMIT = 1000
MAX_GROUPS = 100

# Request fields shown with each rating: public name -> requests column. A prompt version
# joins here once the request log records one.
JOINED: tuple[tuple[str, str], ...] = (
    ("model", "public_model"),
    ("deployment", "deployment"),
    ("provider", "provider"),
    ("feature", "feature"),
    ("endpoint", "endpoint"),
    ("user", "user"),
    ("key_id", "key_id"),
    ("status", "status"),
    ("cost_usd", "cost_usd"),
    ("latency_ms", "latency_ms"),
    ("started_at", "started_at"),
)
_FEEDBACK = (
    "id",
    "request_id",
    "channel",
    "created_at",
    "score",
    "comment",
    "metadata",
    "rated_by",
)
# Dimensions the aggregates group by: name -> requests column.
GROUPS: dict[str, str] = {"model": "public_model", "feature": "feature"}
_FROM = "FROM feedback f LEFT JOIN requests r ON r.id = f.request_id"


@dataclass(frozen=True, slots=True)
class FeedbackQuery:
    since: float
    until: float
    since_text: str
    limit: int = 100
    negative_below: float = 0.0


def _where(bind: _Binder, query: FeedbackQuery) -> str:
    return f"WHERE f.created_at >= {bind(query.since)} AND f.created_at <= {bind(query.until)}"


def _aggregates(bind: _Binder, query: FeedbackQuery) -> str:
    negative = f"CASE WHEN f.score < {bind(query.negative_below)} THEN 1 ELSE 0 END"
    return f"COUNT(*) AS n, AVG(f.score) AS mean_score, COALESCE(SUM({negative}), 0) AS n_negative"


def listing(query: FeedbackQuery, paramstyle: str) -> Statement:
    bind = _Binder(paramstyle)
    own = ", ".join(f'f."{c}" AS "{c}"' for c in _FEEDBACK)
    joined = ", ".join(f'r."{column}" AS "r_{name}"' for name, column in JOINED)
    sql = (
        f'SELECT {own}, r."id" AS "r_id", {joined} {_FROM} '
        f"{_where(bind, query)} ORDER BY f.created_at DESC, f.request_id, f.channel "
    )
    return bind.statement(sql + f"LIMIT {bind(query.limit)}")


def totals(query: FeedbackQuery, paramstyle: str) -> Statement:
    bind = _Binder(paramstyle)
    aggregates = _aggregates(bind, query)
    return bind.statement(f"SELECT {aggregates} {_FROM} {_where(bind, query)}")


def grouped(query: FeedbackQuery, dimension: str, paramstyle: str) -> Statement:
    bind = _Binder(paramstyle)
    column = f'r."{GROUPS[dimension]}"'
    aggregates = _aggregates(bind, query)
    sql = (
        f"SELECT {column} AS g, {aggregates} {_FROM} {_where(bind, query)} "
        f"GROUP BY {column} ORDER BY n DESC, g ASC NULLS LAST "
    )
    return bind.statement(sql + f"LIMIT {bind(MAX_GROUPS)}")


def _summary(row: dict[str, Any]) -> dict[str, Any]:
    count = int(row["n"] or 0)
    negative = int(row["n_negative"] or 0)
    mean = row["mean_score"]
    return {
        "count": count,
        "mean_score": round(float(mean), 6) if mean is not None else None,
        "negative": negative,
        "negative_share": round(negative / count, 6) if count else None,
    }


def _item(row: dict[str, Any]) -> dict[str, Any]:
    item = {name: row[name] for name in _FEEDBACK}
    item["metadata"] = json.loads(row["metadata"] or "{}")
    # null when the request's row is not written yet (or was never logged)
    item["request"] = (
        {name: row[f"r_{name}"] for name, _ in JOINED} if row["r_id"] is not None else None
    )
    return item


async def feedback_report(store: FeedbackStore, query: FeedbackQuery) -> dict[str, Any]:
    style = store.paramstyle
    statements = [listing(query, style), totals(query, style)]
    statements += [grouped(query, dimension, style) for dimension in GROUPS]
    rows, total, *groups = await store.read_rows(statements)
    report: dict[str, Any] = {
        "object": "feedback.report",
        "since": query.since,
        "until": query.until,
        "since_text": query.since_text,
        "negative_below": query.negative_below,
        "totals": _summary(total[0]),
    }
    for dimension, group_rows in zip(GROUPS, groups, strict=True):
        report[f"by_{dimension}"] = [{dimension: g["g"], **_summary(g)} for g in group_rows]
    report["data"] = [_item(row) for row in rows]
    return report
