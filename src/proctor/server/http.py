"""HTTP helpers shared by the handlers: bounded body reads, error replies, reply headers."""

from __future__ import annotations

from collections.abc import Collection

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response

from proctor.context import Api, Context
from proctor.errors import BadRequest, PayloadTooLarge, ProctorError
from proctor.wire import anthropic as anthropic_wire
from proctor.wire import openai as openai_wire

JSON = "application/json"


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing more than `limit` bytes without reading them all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body is {declared} bytes; the limit is {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def known_params(request: Request, allowed: Collection[str]) -> QueryParams:
    """The query parameters. A name not in `allowed` is refused rather than ignored, so that
    a misspelt one (`group_by=user`) fails loudly instead of quietly doing something else."""
    params = request.query_params
    for name in params:
        if name not in allowed:
            raise BadRequest(
                f"unknown parameter `{name[:40]}`; allowed: {', '.join(allowed)}",
                param=name[:40],
                code="invalid_parameter",
            )
    return params


def whole_number(value: str | None, name: str, *, default: int, most: int) -> int:
    """A query parameter that must be a whole number from 1 to `most`; `default` if absent."""
    if value is None:
        return default
    value = value.strip()
    # isascii: "²".isdigit() is true, but int("²") raises.
    if not value.isascii() or not value.isdigit() or not 1 <= int(value) <= most:
        raise BadRequest(
            f"`{name}` must be a whole number from 1 to {most}",
            param=name,
            code="invalid_parameter",
        )
    return int(value)


def error_response(error: ProctorError, api: Api, ctx: Context | None = None) -> Response:
    body = anthropic_wire.error_body(error) if api == "anthropic" else openai_wire.error_body(error)
    headers = dict(error.headers)
    if ctx is not None:
        headers.update(reply_headers(ctx))
    return Response(body, status_code=error.status, media_type=JSON, headers=headers)


def server_timing(ctx: Context) -> str:
    parts = [f"{name};dur={ms:.3f}" for name, ms in ctx.stage_timings_ms().items()]
    parts.append(f"total;dur={ctx.elapsed_ms():.3f}")
    return ", ".join(parts)


def reply_headers(ctx: Context) -> dict[str, str]:
    headers = {
        "x-request-id": ctx.request_id,
        "x-proctor-attempts": str(len(ctx.attempts)),
        "server-timing": server_timing(ctx),
    }
    if ctx.deployment:
        headers["x-proctor-model"] = ctx.deployment
    if ctx.cost_usd is not None:
        headers["x-proctor-cost-usd"] = f"{ctx.cost_usd:.8f}"
    headers.update(ctx.response_headers)
    return headers
