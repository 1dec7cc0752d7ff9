"""The request list, one request's detail, and the event list, for the admin API."""

from __future__ import annotations

from typing import Any

import msgspec

from proctor.stats.params import EventFilter, RequestFilter
from proctor.stats.sql import events_page, feedback_of, requests_page
from proctor.store.base import SpendStore, TraceStore

_JSON_FIELDS = ("stage_ms", "stage_start_ms", "attempts", "findings")


def _decoded(text: object) -> object:
    if not isinstance(text, str):
        return text
    try:
        return msgspec.json.decode(text)
    except msgspec.DecodeError:
        return text  # shown as stored rather than failing the whole answer


async def list_requests(store: SpendStore, wanted: RequestFilter) -> dict[str, Any]:
    """`{"data": rows, "next_before": epoch | None}`: rows as stored, newest first.

    `next_before` is the oldest row's `started_at` when more rows match; pass it as `before`
    for the next page. (Requests started in the very same instant as that row and not on this
    page are skipped by the next one; with float epoch times this does not happen in practice.)
    """
    statement = requests_page(wanted, store.paramstyle)
    [rows] = await store.read_rows([(statement.sql, statement.params)])
    page = rows[: wanted.limit]
    more = len(rows) > wanted.limit
    return {"data": page, "next_before": page[-1]["started_at"] if more else None}


def _span(row: dict[str, Any]) -> dict[str, Any]:
    span = dict(row)
    span["attributes"] = _decoded(row["attributes"])
    span["events"] = _decoded(row["events"])
    span["duration_ms"] = round((row["end_ns"] - row["start_ns"]) / 1e6, 3)
    return span


async def _spans(store: object, request_id: str) -> list[dict[str, Any]]:
    if not isinstance(store, TraceStore):
        return []
    roots = await store.find_traces(request_id=request_id, limit=1)
    if not roots:
        return []
    return [_span(row) for row in await store.get_trace(roots[0]["trace_id"])]


async def request_detail(store: SpendStore, row: dict[str, Any]) -> dict[str, Any]:
    """The stored row with its JSON fields parsed, its spans and its feedback."""
    body = dict(row)
    for name in _JSON_FIELDS:
        body[name] = _decoded(row.get(name))
    statement = feedback_of(row["id"], store.paramstyle)
    [feedback] = await store.read_rows([(statement.sql, statement.params)])
    body["spans"] = await _spans(store, row["id"])
    body["feedback"] = [{**f, "metadata": _decoded(f.get("metadata"))} for f in feedback]
    return body


async def list_events(store: SpendStore, wanted: EventFilter) -> dict[str, Any]:
    statement = events_page(wanted, store.paramstyle)
    [rows] = await store.read_rows([(statement.sql, statement.params)])
    return {"data": [{**row, "detail": _decoded(row["detail"])} for row in rows]}
