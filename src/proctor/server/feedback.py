"""Feedback endpoints: POST /v1/feedback (keyed), POST /v1/feedback/browser (token, CORS),
GET /admin/feedback (the joined report).

`/v1/feedback` is authenticated like the proxy: with virtual keys, only the key that made
the request (or the admin key) may rate it; without keys, open hosts only. The browser
variant needs no key: the response's `x-proctor-feedback-token` is the capability, checked
in constant time. Each channel keeps one rating per request; a new one replaces it, up to
`feedback.max_changes` times per replica (then 429).
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from proctor.app import Gateway
from proctor.errors import (
    AuthenticationFailed,
    BadRequest,
    NotFound,
    PermissionDenied,
    ProctorError,
    RateLimited,
)
from proctor.feedback import Channel, FeedbackInput, FeedbackQuery, feedback_report, parse_feedback
from proctor.feedback.body import MAX_BODY_BYTES
from proctor.feedback.recent import Seen
from proctor.feedback.report import MAX_LIMIT
from proctor.server.admin import _authorize
from proctor.server.http import error_response, read_body, whole_number
from proctor.spend.params import SpendParamError, parse_since
from proctor.stages.identify import secret_of, verify_key
from proctor.store.base import FeedbackStore
from proctor.store.records import FeedbackRecord

ADMIN = "admin"
REPORT_PARAMETERS = ("since", "limit")


@dataclass(frozen=True, slots=True)
class Rater:
    key_id: str | None  # the key; ADMIN for the admin key; None on an open host without keys

    @property
    def admin(self) -> bool:
        return self.key_id == ADMIN


def _gateway(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


def _rater(request: Request, gateway: Gateway) -> Rater:
    """Who is rating, authenticated the way the proxy authenticates callers."""
    server = gateway.config.server
    secret = secret_of({k: v for k, v in request.headers.items()})
    if (
        secret
        and server.admin_key
        and hmac.compare_digest(secret.encode(), server.admin_key.encode())
    ):
        return Rater(ADMIN)
    if gateway.keyring.is_empty:
        host = request.client.host if request.client else None
        if host is not None and host not in server.open_hosts:
            raise AuthenticationFailed(
                "no virtual keys are configured, so feedback is only accepted from "
                f"{', '.join(sorted(server.open_hosts))} (or with the admin key)",
                code="invalid_api_key",
            )
        return Rater(None)
    return Rater(verify_key(gateway.keyring, secret).id)


async def _locate(gateway: Gateway, request_id: str) -> Seen:
    seen = await gateway.feedback.locate(request_id)
    if seen is None:
        raise NotFound(
            f"no request with id '{request_id}' is known to this gateway",
            param="request_id",
            code="unknown_request",
        )
    return seen


def _accept(
    gateway: Gateway, given: FeedbackInput, channel: Channel, rater: str | None, seen: Seen
) -> Response:
    limit = gateway.config.feedback.max_changes
    if not gateway.feedback.changes.take(given.request_id, channel, limit):
        raise RateLimited(
            f"this request was already rated {limit} times on this channel",
            param="request_id",
            code="feedback_limit",
        )
    record = gateway.feedback.submit(given, channel, rater)
    gateway.alerts.record_feedback(given.score, seen.model, seen.feature)
    return JSONResponse(_shown(record))


def _shown(record: FeedbackRecord) -> dict[str, object]:
    return {
        "object": "feedback",
        "id": record.id,
        "request_id": record.request_id,
        "channel": record.channel,
        "score": record.score,
        "comment": record.comment,
        "created_at": record.created_at,
    }


async def post_feedback(request: Request) -> Response:
    """`{request_id, score, comment?, metadata?}` with the key that made the request."""
    gateway = _gateway(request)
    try:
        rater = _rater(request, gateway)
        given = parse_feedback(await read_body(request, MAX_BODY_BYTES))
        seen = await _locate(gateway, given.request_id)
        keyed = not gateway.keyring.is_empty
        if keyed and not rater.admin and seen.key_id != rater.key_id:
            raise PermissionDenied(
                "only the key that made a request (or the admin key) may rate it",
                param="request_id",
                code="not_your_request",
            )
        return _accept(gateway, given, "api", rater.key_id, seen)
    except ProctorError as exc:
        return error_response(exc, "openai")


def _cors_origin(request: Request, gateway: Gateway) -> str | None:
    """The Access-Control-Allow-Origin value for this caller, or None when not allowed."""
    origin = request.headers.get("origin")
    if origin is None:
        return None
    allowed = gateway.config.feedback.allowed_origins
    if "*" in allowed:
        return "*"
    wanted = origin.lower()
    return origin if any(wanted == a.lower() for a in allowed) else None


def _with_cors(response: Response, origin: str | None) -> Response:
    if origin is not None:
        response.headers["access-control-allow-origin"] = origin
    response.headers["vary"] = "Origin"
    return response


def _preflight(request: Request, gateway: Gateway) -> Response:
    origin = _cors_origin(request, gateway)
    if origin is None:
        forbidden = PermissionDenied(
            "this origin may not send browser feedback (see feedback.allowed_origins)",
            code="origin_not_allowed",
        )
        return _with_cors(error_response(forbidden, "openai"), None)
    response = Response(status_code=204)
    response.headers["access-control-allow-methods"] = "POST, OPTIONS"
    response.headers["access-control-allow-headers"] = "content-type"
    response.headers["access-control-max-age"] = "600"
    return _with_cors(response, origin)


async def post_browser_feedback(request: Request) -> Response:
    """`{request_id, token, score, comment?}`: no key, the response's feedback token."""
    gateway = _gateway(request)
    if request.method == "OPTIONS":
        return _preflight(request, gateway)
    origin = _cors_origin(request, gateway)
    try:
        if origin is None and "origin" in request.headers:
            raise PermissionDenied(
                "this origin may not send browser feedback (see feedback.allowed_origins)",
                code="origin_not_allowed",
            )
        given = parse_feedback(await read_body(request, MAX_BODY_BYTES), browser=True)
        signer = gateway.feedback.signer(gateway.config)
        if given.token is None or not signer.verify(given.request_id, given.token):
            raise AuthenticationFailed(
                "the token does not match the request id",
                param="token",
                code="invalid_feedback_token",
            )
        seen = await _locate(gateway, given.request_id)
        response = _accept(gateway, given, "browser", None, seen)
    except ProctorError as exc:
        response = error_response(exc, "openai")
    return _with_cors(response, origin)


def _report_query(request: Request, gateway: Gateway) -> FeedbackQuery:
    params = request.query_params
    for name in params:
        if name not in REPORT_PARAMETERS or len(params.getlist(name)) > 1:
            shown = name[:40]
            raise BadRequest(
                f"unknown or repeated parameter `{shown}`; allowed once each: "
                f"{', '.join(REPORT_PARAMETERS)}",
                param=shown,
                code="invalid_parameter",
            )
    limit = whole_number(params.get("limit"), "limit", default=100, most=MAX_LIMIT)
    now = time.time()
    try:
        since = parse_since(params.get("since"), now)
    except SpendParamError as exc:
        raise BadRequest(exc.message, param=exc.param, code="invalid_parameter") from None
    return FeedbackQuery(
        since=since,
        until=now,
        since_text=(params.get("since") or "24h").strip(),
        limit=limit,
        negative_below=gateway.config.feedback.negative_below,
    )


async def list_feedback(request: Request) -> Response:
    """GET /admin/feedback?since=24h&limit=100"""
    try:
        gateway = _authorize(request)
        query = _report_query(request, gateway)
        store = gateway.store
        if not isinstance(store, FeedbackStore):
            raise BadRequest("the configured store cannot answer feedback reports")
        report = await feedback_report(store, query)
    except ProctorError as exc:
        return error_response(exc, "openai")
    return JSONResponse(report)
