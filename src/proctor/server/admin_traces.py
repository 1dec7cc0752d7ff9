"""GET /admin/traces/{trace_id}: a trace's spans; GET /admin/traces: the traces of a session
or a request (`?session=`, `?request_id=`), or the latest ones, newest first.

Spans are the ones kept in the store's `spans` table (telemetry.store_spans), written within
about a flush interval after a request finished.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from proctor.errors import BadRequest, NotFound, ProctorError
from proctor.server.admin import _authorize
from proctor.server.http import JSON, error_response, known_params, whole_number
from proctor.store.base import TraceStore

PARAMETERS = ("session", "request_id", "limit")
_TRACE_ID = re.compile(r"[0-9a-f]{32}")


def _store(request: Request) -> TraceStore:
    store = _authorize(request).store
    if not isinstance(store, TraceStore):
        raise BadRequest("the configured store does not keep traces")
    return store


def _span(row: dict[str, Any]) -> dict[str, Any]:
    span = dict(row)
    span["attributes"] = msgspec.json.decode(row["attributes"])
    span["events"] = msgspec.json.decode(row["events"])
    span["duration_ms"] = round((row["end_ns"] - row["start_ns"]) / 1e6, 3)
    return span


async def get_trace(request: Request) -> Response:
    try:
        store = _store(request)
        trace_id = request.path_params["trace_id"].lower()
        if not _TRACE_ID.fullmatch(trace_id):
            raise BadRequest("a trace id is 32 hexadecimal digits", param="trace_id")
        rows = await store.get_trace(trace_id)
        if not rows:
            raise NotFound("no trace with that id (spans are written within ~100 ms)")
    except ProctorError as exc:
        return error_response(exc, "openai")
    body = {"trace_id": trace_id, "spans": [_span(row) for row in rows]}
    return Response(msgspec.json.encode(body), media_type=JSON)


async def list_traces(request: Request) -> Response:
    try:
        store = _store(request)
        params = known_params(request, PARAMETERS)
        rows = await store.find_traces(
            session=params.get("session"),
            request_id=params.get("request_id"),
            limit=whole_number(params.get("limit"), "limit", default=50, most=1000),
        )
    except ProctorError as exc:
        return error_response(exc, "openai")
    return Response(msgspec.json.encode({"data": [_span(row) for row in rows]}), media_type=JSON)
