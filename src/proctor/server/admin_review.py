"""The review queue's admin API.

    GET  /admin/review?status=pending&limit=50   list (newest first)
    GET  /admin/review/{id}                      one item
    POST /admin/review/{id}/approve              body (optional): {"reason": "...", "by": "alice"}
    POST /admin/review/{id}/reject

Same auth as the rest of /admin. A decision here wakes the held request at once when this
gateway holds it; another gateway holding it sees the decision at its next poll. Deciding an
item that is decided or expired is a 409 that says which, an unknown id a 404.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from proctor.app import Gateway
from proctor.config.guard_ops import Decision
from proctor.errors import BadRequest, Conflict, NotFound, ProctorError, ServiceUnavailable
from proctor.guards.review.item import STATUSES, ReviewConflict, ReviewItem, ReviewNotFound, Status
from proctor.guards.review.queue import ReviewUnavailable
from proctor.server.admin import _authorize as authorize  # the one admin auth rule
from proctor.server.http import error_response, known_params, read_body, whole_number

T = TypeVar("T")
MAX_BODY = 16 * 1024
MAX_LIMIT = 1000


class DecisionBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    reason: str | None = None
    by: str | None = None  # who decided; recorded as "operator:<by>" ("operator:admin")


def _status(value: str | None) -> Status | None:
    if value is None or value == "all":
        return None
    if value not in STATUSES:
        raise BadRequest(
            f"`status` must be one of {', '.join(STATUSES)} or all, got {value[:40]!r}",
            param="status",
            code="invalid_parameter",
        )
    return value  # narrowed by the membership test


async def list_reviews(request: Request) -> Response:
    try:
        gateway = authorize(request)
        params = known_params(request, ("status", "limit"))
        status = _status(params.get("status"))
        limit = whole_number(params.get("limit"), "limit", default=50, most=MAX_LIMIT)
        items = await _queue_call(lambda: gateway.review.store.list_reviews(status, limit))
    except ProctorError as exc:
        return error_response(exc, "openai")
    return JSONResponse({"object": "list", "data": [i.public() for i in items]})


async def get_review(request: Request) -> Response:
    review_id: str = request.path_params["review_id"]
    try:
        gateway = authorize(request)
        item = await _queue_call(lambda: gateway.review.store.get_review(review_id))
        if item is None:
            raise NotFound(
                f"no review item {review_id[:40]!r}", param="review_id", code="review_not_found"
            )
    except ProctorError as exc:
        return error_response(exc, "openai")
    return JSONResponse(item.public())


async def approve(request: Request) -> Response:
    return await _decide(request, "approve")


async def reject(request: Request) -> Response:
    return await _decide(request, "reject")


async def _decide(request: Request, decision: Decision) -> Response:
    review_id: str = request.path_params["review_id"]
    try:
        gateway = authorize(request)
        body = await _decision_body(request)
        item = await _apply(gateway, review_id, decision, body)
    except ProctorError as exc:
        return error_response(exc, "openai")
    return JSONResponse(item.public())


async def _decision_body(request: Request) -> DecisionBody:
    raw = await read_body(request, MAX_BODY)
    if not raw.strip():
        return DecisionBody()
    try:
        return msgspec.json.decode(raw, type=DecisionBody)
    except msgspec.DecodeError as exc:
        raise BadRequest(f"invalid decision body: {exc}", code="invalid_request") from None


async def _apply(
    gateway: Gateway, review_id: str, decision: Decision, body: DecisionBody
) -> ReviewItem:
    try:
        return await _queue_call(
            lambda: gateway.review.decide(review_id, decision, operator=body.by, reason=body.reason)
        )
    except ReviewNotFound:
        raise NotFound(
            f"no review item {review_id[:40]!r}", param="review_id", code="review_not_found"
        ) from None
    except ReviewConflict as exc:
        code = "review_expired" if exc.item.status == "expired" else "review_decided"
        raise Conflict(str(exc), param="review_id", code=code) from None


async def _queue_call(call: Callable[[], Awaitable[T]]) -> T:
    try:
        return await call()
    except ReviewUnavailable as exc:
        raise ServiceUnavailable(str(exc), code="review_unavailable") from None
