"""The dashboard's read API: GET /admin/stats, /admin/requests (filtered, paged),
/admin/requests/{id} (with spans and feedback) and /admin/events."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from proctor.errors import BadRequest, NotFound, ProctorError
from proctor.server.admin import _authorize
from proctor.server.http import JSON, error_response, known_params
from proctor.spend.params import SpendParamError
from proctor.stats.browse import list_events, list_requests, request_detail
from proctor.stats.params import event_filter, request_filter, stats_query
from proctor.stats.report import stats_report
from proctor.store.base import SpendStore

STATS_PARAMETERS = ("since", "bucket", "by")
REQUEST_PARAMETERS = (
    *("since", "model", "feature", "user", "endpoint", "status", "q", "limit", "before"),
)
EVENT_PARAMETERS = ("kind", "since", "limit")


def _params(request: Request, allowed: tuple[str, ...]) -> dict[str, str | None]:
    """The query parameters, each at most once; unknown names are refused, not ignored."""
    params = known_params(request, allowed)
    for name in params:
        if len(params.getlist(name)) > 1:
            raise BadRequest(
                f"`{name}` is given more than once", param=name, code="invalid_parameter"
            )
    return {name: params.get(name) for name in allowed}


def _store(request: Request) -> SpendStore:
    store = _authorize(request).store
    if not isinstance(store, SpendStore):
        raise BadRequest("the configured store cannot answer queries")
    return store


async def _answer(request: Request, build: Callable[[SpendStore], Awaitable[Any]]) -> Response:
    try:
        store = _store(request)
        try:
            body = await build(store)
        except SpendParamError as exc:
            raise BadRequest(exc.message, param=exc.param, code="invalid_parameter") from None
    except ProctorError as exc:
        return error_response(exc, "openai")
    return Response(msgspec.json.encode(body), media_type=JSON)


async def get_stats(request: Request) -> Response:
    async def build(store: SpendStore) -> Any:
        return await stats_report(store, stats_query(_params(request, STATS_PARAMETERS)))

    return await _answer(request, build)


async def get_requests(request: Request) -> Response:
    async def build(store: SpendStore) -> Any:
        return await list_requests(store, request_filter(_params(request, REQUEST_PARAMETERS)))

    return await _answer(request, build)


async def get_request(request: Request) -> Response:
    async def build(store: SpendStore) -> Any:
        row = await _authorize(request).store.get_request(request.path_params["request_id"])
        if row is None:
            raise NotFound("no request with that id (records are written within ~100 ms)")
        return await request_detail(store, row)

    return await _answer(request, build)


async def get_events(request: Request) -> Response:
    async def build(store: SpendStore) -> Any:
        return await list_events(store, event_filter(_params(request, EVENT_PARAMETERS)))

    return await _answer(request, build)
