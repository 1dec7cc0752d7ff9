"""Liveness and readiness."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response


async def healthz(request: Request) -> Response:
    """The process is up and its event loop answers."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Ready to take traffic: started, and the request log is keeping up."""
    gateway = request.app.state.gateway
    runtime = gateway._runtime
    checks = {
        "started": runtime is not None,
        "request_log_backlog": gateway.writer.depth,
        "providers": sorted(runtime.providers) if runtime else [],
    }
    ready = runtime is not None and gateway.writer.depth < gateway.writer.max_buffered // 2
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status_code=200 if ready else 503,
    )
