"""The anomaly breaker's admin API (its state lives in this gateway's memory).

    GET  /admin/guards/breaker           config summary and every tracked scope
    POST /admin/guards/breaker/reset     body (optional): {"feature": "...", "model": "..."};
                                         without one, every scope is closed and emptied

Same auth as the rest of /admin.
"""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from proctor.errors import BadRequest, ProctorError
from proctor.server.admin import _authorize as authorize  # the one admin auth rule
from proctor.server.http import error_response, read_body

MAX_BODY = 16 * 1024


class ResetBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    feature: str | None = None
    model: str | None = None


async def get_breaker(request: Request) -> Response:
    try:
        gateway = authorize(request)
    except ProctorError as exc:
        return error_response(exc, "openai")
    anomaly = gateway.anomaly
    config = anomaly.config
    return JSONResponse(
        {
            "object": "guard_breaker",
            "enabled": config.enabled,
            "by": config.by,
            "window_s": config.window_s,
            "min_requests": config.min_requests,
            "threshold": config.threshold,
            "events": list(config.events),
            "safe_mode": config.safe_mode,
            "recover_after_s": config.recover_after_s,
            "scopes": anomaly.snapshot(),
            "untracked": anomaly.dropped,
        }
    )


async def reset_breaker(request: Request) -> Response:
    try:
        gateway = authorize(request)
        raw = await read_body(request, MAX_BODY)
        try:
            body = msgspec.json.decode(raw, type=ResetBody) if raw.strip() else ResetBody()
        except msgspec.DecodeError as exc:
            raise BadRequest(f"invalid reset body: {exc}", code="invalid_request") from None
    except ProctorError as exc:
        return error_response(exc, "openai")
    reset = gateway.anomaly.reset(body.feature, body.model)
    return JSONResponse({"object": "guard_breaker_reset", "reset": reset})
