"""`GET /metrics`: the Prometheus text exposition of this gateway's registry.

Guarded like the admin API: with `server.admin_key` set, Prometheus sends it as a bearer
token (`authorization` in its scrape config); without one, only `server.open_hosts` may scrape.
"""

from __future__ import annotations

from prometheus_client.exposition import choose_encoder
from starlette.requests import Request
from starlette.responses import Response

from proctor.errors import ProctorError
from proctor.server.admin import _authorize
from proctor.server.http import error_response


async def metrics(request: Request) -> Response:
    try:
        gateway = _authorize(request)
    except ProctorError as exc:
        return error_response(exc, "openai")
    # Text format, or OpenMetrics when the scraper asks for it.
    encode, content_type = choose_encoder(request.headers.get("accept", ""))
    # Built on the event loop: the collectors read live state that only the loop mutates.
    return Response(encode(gateway.metrics.registry), media_type=content_type)
