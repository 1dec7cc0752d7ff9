"""GET /admin/spend: the spend report (the same JSON as `proctor spend --json`)."""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from proctor.errors import BadRequest, ProctorError
from proctor.server.admin import _authorize
from proctor.server.http import JSON, error_response, known_params
from proctor.spend import SpendParamError, SpendQuery, spend_query, spend_report
from proctor.store.base import SpendStore

PARAMETERS = ("by", "since", "top", "series")


def _query_of(request: Request) -> SpendQuery:
    params = known_params(request, PARAMETERS)
    for name in ("since", "top", "series"):
        if len(params.getlist(name)) > 1:
            raise BadRequest(
                f"`{name}` is given more than once", param=name, code="invalid_parameter"
            )
    try:
        # `by` may be repeated (by=user&by=feature) or comma-separated, or both.
        return spend_query(
            by=",".join(params.getlist("by")),
            since=params.get("since"),
            top=params.get("top"),
            series=params.get("series"),
        )
    except SpendParamError as exc:
        raise BadRequest(exc.message, param=exc.param, code="invalid_parameter") from None


async def get_spend(request: Request) -> Response:
    try:
        gateway = _authorize(request)
        query = _query_of(request)
        store = gateway.store
        if not isinstance(store, SpendStore):
            raise BadRequest("the configured store cannot answer spend reports")
        report = await spend_report(store, query)
    except ProctorError as exc:
        return error_response(exc, "openai")
    return Response(msgspec.json.encode(report), media_type=JSON)
