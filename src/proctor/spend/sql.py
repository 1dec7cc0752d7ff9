"""The SQL behind a spend report: portable, read-only, and with every value bound.

Identifiers come only from the constant whitelist in `params.DIMENSIONS`; every value
(times, bucket widths, limits) is a bound parameter. The statements stay inside what SQLite
and PostgreSQL both accept: no date functions, no FLOOR (SQLite has it only when built with
its math extension), output-column aliases only as bare names in ORDER BY, and every
identifier double-quoted because `user` is reserved in PostgreSQL.
"""

from __future__ import annotations

from typing import NamedTuple

from proctor.spend.params import DIMENSIONS, SpendQuery

# DB-API paramstyle names, plus "dollar" for drivers that number placeholders $1, $2 (asyncpg).
PARAMSTYLES = ("qmark", "format", "dollar")


class Statement(NamedTuple):
    sql: str
    params: tuple[object, ...]


class _Binder:
    """Hands out placeholders in the order they appear in the text, collecting the values."""

    def __init__(self, paramstyle: str) -> None:
        if paramstyle not in PARAMSTYLES:
            raise ValueError(f"unsupported paramstyle {paramstyle!r}; known: {PARAMSTYLES}")
        self.paramstyle = paramstyle
        self.values: list[object] = []

    def __call__(self, value: object) -> str:
        self.values.append(value)
        if self.paramstyle == "qmark":
            return "?"
        if self.paramstyle == "format":
            return "%s"
        return f"${len(self.values)}"

    def statement(self, sql: str) -> Statement:
        return Statement(" ".join(sql.split()), tuple(self.values))


def _column(dimension: str) -> str:
    # KeyError on anything outside the whitelist: a second guard behind params.parse_by.
    return f'"{DIMENSIONS[dimension]}"'


# (alias, expression). Aliases differ from every column name so that ORDER BY on an alias
# is never ambiguous. Sums are COALESCEd so an all-NULL group orders and reads as zero.
_AGGREGATES: tuple[tuple[str, str], ...] = (
    ("n_requests", "COUNT(*)"),
    ("n_errors", "COALESCE(SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END), 0)"),
    ("sum_prompt", "COALESCE(SUM(prompt_tokens), 0)"),
    ("sum_completion", "COALESCE(SUM(completion_tokens), 0)"),
    ("sum_cached", "COALESCE(SUM(cached_tokens), 0)"),
    ("sum_cost", "COALESCE(SUM(cost_usd), 0)"),
    ("n_unknown_cost", "COALESCE(SUM(CASE WHEN cost_usd IS NULL THEN 1 ELSE 0 END), 0)"),
)
_SELECT_AGGREGATES = ", ".join(f"{expr} AS {alias}" for alias, expr in _AGGREGATES)
# The columns the aggregates read, for the series subquery.
_MEASURED = "status, prompt_tokens, completion_tokens, cached_tokens, cost_usd"


def _window(bind: _Binder, query: SpendQuery) -> str:
    return f"started_at >= {bind(query.since)} AND started_at <= {bind(query.until)}"


def totals(query: SpendQuery, paramstyle: str) -> Statement:
    bind = _Binder(paramstyle)
    return bind.statement(f"SELECT {_SELECT_AGGREGATES} FROM requests WHERE {_window(bind, query)}")


def groups(query: SpendQuery, paramstyle: str) -> Statement:
    """The top groups by cost; ties by request count, then by the group values."""
    bind = _Binder(paramstyle)
    keys = ", ".join(f"{_column(d)} AS g{i}" for i, d in enumerate(query.by))
    group_by = ", ".join(_column(d) for d in query.by)
    # NULLS LAST: PostgreSQL and SQLite disagree on where NULLs sort unless told.
    ties = ", ".join(f"g{i} ASC NULLS LAST" for i in range(len(query.by)))
    sql = (
        f"SELECT {keys}, {_SELECT_AGGREGATES} FROM requests WHERE {_window(bind, query)} "
        f"GROUP BY {group_by} ORDER BY sum_cost DESC, n_requests DESC, {ties} "
    )
    return bind.statement(sql + f"LIMIT {bind(query.top)}")


def group_count(query: SpendQuery, paramstyle: str) -> Statement:
    """How many groups there are in all, so the report can say what the top N left out."""
    bind = _Binder(paramstyle)
    group_by = ", ".join(_column(d) for d in query.by)
    return bind.statement(
        f"SELECT COUNT(*) AS n_groups FROM (SELECT 1 AS one FROM requests "
        f"WHERE {_window(bind, query)} GROUP BY {group_by}) AS grouped"
    )


def _floor_div(bind: _Binder, width: float) -> str:
    """floor(started_at / width) in plain arithmetic.

    CAST to an integer truncates in SQLite but rounds to nearest in PostgreSQL; either way
    the result is floor or floor + 1, and subtracting 1 when it overshot gives floor in both.
    """
    cast = f"CAST(started_at / {bind(width)} AS BIGINT)"
    again = f"CAST(started_at / {bind(width)} AS BIGINT)"
    return f"{cast} - CASE WHEN {again} > started_at / {bind(width)} THEN 1 ELSE 0 END"


def series(query: SpendQuery, paramstyle: str) -> Statement:
    """Totals per bucket: bucket_index * width is the bucket's start in epoch seconds (UTC)."""
    width = query.bucket_seconds
    if width is None:
        raise ValueError("the query asks for no series")
    bind = _Binder(paramstyle)
    # The subquery names the bucket once, so GROUP BY needs no repeated (re-bound) expression.
    inner = (
        f"SELECT {_floor_div(bind, float(width))} AS bucket_index, {_MEASURED} "
        f"FROM requests WHERE {_window(bind, query)}"
    )
    return bind.statement(
        f"SELECT bucket_index, {_SELECT_AGGREGATES} FROM ({inner}) AS bucketed "
        f"GROUP BY bucket_index ORDER BY bucket_index"
    )


def plan(query: SpendQuery, paramstyle: str) -> dict[str, Statement]:
    """Every statement the report needs, by name; a store runs them in one read snapshot."""
    statements = {"totals": totals(query, paramstyle)}
    if query.by:
        statements["groups"] = groups(query, paramstyle)
        statements["group_count"] = group_count(query, paramstyle)
    if query.series is not None:
        statements["series"] = series(query, paramstyle)
    return statements
