"""The statements behind /admin/stats and the browsing endpoints: portable and bound.

Built with the spend report's binder (`proctor.spend.sql._Binder`) and its bucket arithmetic;
identifiers come only from constant whitelists (`DIMENSIONS`, `EQUALITY_FILTERS`), every
value is a bound parameter.
"""

from __future__ import annotations

from typing import Literal

from proctor.spend.sql import Statement, _Binder, _floor_div
from proctor.stats.params import EQUALITY_FILTERS, EventFilter, RequestFilter, StatsQuery
from proctor.store.records import COLUMNS

# Rows fetched per call for the measures SQL cannot compute portably (percentiles, findings).
SAMPLE_CAP = 200_000
BREAKDOWN_TOP = 20

# A request served from the gateway's cache will have its `cache` column set; until the
# request log has that column, no request counts as a cache hit.
_CACHE = (
    'COALESCE(SUM(CASE WHEN "cache" IS NOT NULL THEN 1 ELSE 0 END), 0)'
    if "cache" in COLUMNS
    else "0"
)
_AGGREGATES = (
    "COUNT(*) AS n_requests, "
    "COALESCE(SUM(CASE WHEN status >= 500 THEN 1 ELSE 0 END), 0) AS n_errors, "
    "COALESCE(SUM(CASE WHEN status >= 400 AND status < 500 THEN 1 ELSE 0 END), 0) AS n_client, "
    "COALESCE(SUM(cost_usd), 0) AS sum_cost, "
    "COALESCE(SUM(prompt_tokens), 0) AS sum_prompt, "
    "COALESCE(SUM(completion_tokens), 0) AS sum_completion, "
    f"{_CACHE} AS n_cache, "
    "COALESCE(SUM(fb_n), 0) AS n_feedback, "
    "SUM(fb_sum) AS sum_feedback"
)
_MEASURED = "status, cost_usd, prompt_tokens, completion_tokens, fb_n, fb_sum" + (
    ', "cache"' if "cache" in COLUMNS else ""
)

Grouping = Literal["total", "bucket", "key"]


def _window(bind: _Binder, query: StatsQuery) -> str:
    return f"started_at >= {bind(query.since)} AND started_at <= {bind(query.until)}"


def _group_expr(bind: _Binder, query: StatsQuery, grouping: Grouping) -> str:
    if grouping == "bucket":
        return _floor_div(bind, float(query.bucket_seconds))
    if grouping == "key" and query.column is not None:
        return f'"{query.column}"'
    return "0"


def aggregate(query: StatsQuery, paramstyle: str, grouping: Grouping) -> Statement:
    """Counts and sums, once in all, per bucket (`grp` = bucket index) or per key (top 20)."""
    bind = _Binder(paramstyle)
    group = _group_expr(bind, query, grouping)
    feedback = (
        "SELECT request_id, COUNT(*) AS fb_n, SUM(score) AS fb_sum FROM feedback "
        f"WHERE request_id IN (SELECT id FROM requests WHERE {_window(bind, query)}) "
        "GROUP BY request_id"
    )
    inner = (
        f"SELECT {group} AS grp, {_MEASURED} FROM requests "
        f"LEFT JOIN ({feedback}) AS fb ON fb.request_id = requests.id "
        f"WHERE {_window(bind, query)}"
    )
    sql = f"SELECT grp, {_AGGREGATES} FROM ({inner}) AS measured GROUP BY grp "
    if grouping == "key":
        sql += f"ORDER BY n_requests DESC, grp ASC NULLS LAST LIMIT {bind(BREAKDOWN_TOP)}"
    else:
        sql += "ORDER BY grp"
    return bind.statement(sql)


def sample(
    query: StatsQuery, paramstyle: str, measure: Literal["latency", "findings"]
) -> Statement:
    """The newest SAMPLE_CAP + 1 rows of the window (one more, to tell that the cap was hit)."""
    bind = _Binder(paramstyle)
    key = f'"{query.column}" AS grp, ' if query.column is not None else ""
    if measure == "latency":
        sql = f"SELECT started_at, {key}latency_ms, ttft_ms FROM requests WHERE "
        sql += _window(bind, query)
    else:
        sql = f"SELECT started_at, {key}findings FROM requests WHERE {_window(bind, query)} "
        sql += f"AND findings <> {bind('[]')}"
    return bind.statement(sql + f" ORDER BY started_at DESC LIMIT {bind(SAMPLE_CAP + 1)}")


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def requests_page(wanted: RequestFilter, paramstyle: str) -> Statement:
    """The newest matching requests; one row more than the limit, to tell if a page follows."""
    bind = _Binder(paramstyle)
    where = ["1 = 1"]
    if wanted.since is not None:
        where.append(f"started_at >= {bind(wanted.since)}")
    if wanted.before is not None:
        where.append(f"started_at < {bind(wanted.before)}")
    allowed = set(EQUALITY_FILTERS.values())
    for column, value in wanted.equal:
        if column not in allowed:  # a second guard behind params.EQUALITY_FILTERS
            raise KeyError(column)
        where.append(f'"{column}" = {bind(value)}')
    if wanted.status is not None:
        where.append(f"status = {bind(wanted.status)}")
    if wanted.errors_only:
        where.append(f"status >= {bind(400)}")
    if wanted.q is not None:
        prefix = bind(_escape_like(wanted.q) + "%")
        where.append(f"(id LIKE {prefix} ESCAPE {bind(chr(92))} OR session = {bind(wanted.q)})")
    return bind.statement(
        f"SELECT * FROM requests WHERE {' AND '.join(where)} "
        f"ORDER BY started_at DESC, id DESC LIMIT {bind(wanted.limit + 1)}"
    )


def events_page(wanted: EventFilter, paramstyle: str) -> Statement:
    bind = _Binder(paramstyle)
    where = ["1 = 1"]
    if wanted.kind is not None:
        where.append(f"kind = {bind(wanted.kind)}")
    if wanted.since is not None:
        where.append(f"at >= {bind(wanted.since)}")
    return bind.statement(
        f"SELECT * FROM events WHERE {' AND '.join(where)} "
        f"ORDER BY at DESC, id DESC LIMIT {bind(wanted.limit)}"
    )


def feedback_of(request_id: str, paramstyle: str) -> Statement:
    bind = _Binder(paramstyle)
    return bind.statement(
        f"SELECT * FROM feedback WHERE request_id = {bind(request_id)} ORDER BY created_at, channel"
    )
