"""The ASGI application: the gateway, the route table, and their lifetime."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from proctor.app import Gateway
from proctor.config import Config
from proctor.errors import BadRequest, NotFound, ProctorError
from proctor.reload import ConfigWatcher
from proctor.server.http import error_response
from proctor.server.routes import ROUTES


def _api_of(request: Request) -> str:
    return "anthropic" if request.url.path.startswith("/v1/messages") else "openai"


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    error: ProctorError
    if exc.status_code == 404:
        error = NotFound(f"no route for {request.method} {request.url.path}")
    elif exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        error = BadRequest(
            f"method {request.method} is not allowed on {request.url.path} (allowed: {allowed})",
            headers={"allow": allowed} if allowed else None,
        )
        error.status = 405
    else:
        error = BadRequest(str(exc.detail))
        error.status = exc.status_code
    return error_response(error, "anthropic" if _api_of(request) == "anthropic" else "openai")


async def _internal_error(request: Request, exc: Exception) -> Response:
    error = ProctorError(f"internal error: {type(exc).__name__}")
    return error_response(error, "anthropic" if _api_of(request) == "anthropic" else "openai")


def create_app(
    config: Config, *, config_path: str | Path | None = None, watch_interval_s: float = 1.0
) -> Starlette:
    """Build the server; the gateway starts and stops with the ASGI lifespan."""
    gateway = Gateway(config)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await gateway.start()
        watcher = None
        if config_path is not None:
            watcher = ConfigWatcher(gateway, config_path, watch_interval_s)
            watcher.start()
        app.state.watcher = watcher
        try:
            yield
        finally:
            if watcher is not None:
                await watcher.stop()
            await gateway.close()

    app = Starlette(
        routes=ROUTES,
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error, Exception: _internal_error},
    )
    app.state.gateway = gateway
    app.state.watcher = None
    return app
