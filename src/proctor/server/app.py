"""The ASGI application: the gateway, the route table, and their lifetime."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from proctor.app import Gateway
from proctor.config import Config
from proctor.context import Api
from proctor.errors import BadRequest, NotFound, ProctorError
from proctor.reload import ConfigWatcher
from proctor.server.http import error_response
from proctor.server.routes import ROUTES

log = logging.getLogger("proctor.server")


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


class InternalErrors:
    """Turns an unexpected exception into a 500 in the caller's error shape.

    Unlike an `Exception` handler (which Starlette's outermost middleware answers and then
    re-raises, so the server closes the keep-alive connection), this answers and stops
    there; the exception is logged with its traceback.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            log.exception("internal error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            path = str(scope.get("path", ""))
            api: Api = "anthropic" if path.startswith("/v1/messages") else "openai"
            error = ProctorError(f"internal error: {type(exc).__name__}")
            await error_response(error, api)(scope, receive, send)


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
        exception_handlers={HTTPException: _http_error},
        middleware=[Middleware(InternalErrors)],
    )
    app.state.gateway = gateway
    app.state.watcher = None
    return app
