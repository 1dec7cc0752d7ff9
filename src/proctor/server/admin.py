"""The admin API: config, request log. Needs the admin key, or a loopback caller without one."""

from __future__ import annotations

import hmac
import re

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from proctor.app import Gateway
from proctor.config import ConfigError
from proctor.errors import AuthenticationFailed, BadRequest, ProctorError
from proctor.server.http import error_response, read_body


def _authorize(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    server = gateway.config.server
    given = request.headers.get("x-api-key") or request.headers.get("authorization", "")
    given = given.removeprefix("Bearer ").strip()
    if server.admin_key:
        if not hmac.compare_digest(given.encode(), server.admin_key.encode()):
            raise AuthenticationFailed("the admin API needs the admin key", code="invalid_api_key")
    elif request.client is None or request.client.host not in server.open_hosts:
        raise AuthenticationFailed(
            "no admin key is configured; the admin API only answers loopback callers"
        )
    return gateway


async def get_config(request: Request) -> Response:
    try:
        gateway = _authorize(request)
    except ProctorError as exc:
        return error_response(exc, "openai")
    body = msgspec.to_builtins(gateway.config)
    _hide_secrets(body)
    for sink in body.get("alerts", {}).get("sinks", []):
        # A webhook's path is its secret (Slack's are): show where it goes, not the token.
        if isinstance(sink.get("url"), str):
            sink["url"] = re.sub(r"^(\w+://[^/]+).*$", r"\1/***", sink["url"])
    return JSONResponse(body)


def _hide_secrets(tree: object) -> None:
    if isinstance(tree, dict):
        for key, value in tree.items():
            if key in ("api_key", "admin_key", "secret") and value:
                tree[key] = "***"
            elif key == "headers" and isinstance(value, dict):
                # Provider headers often carry credentials; show only which are set.
                tree[key] = {name: "***" for name in value}
            elif isinstance(value, str) and "@" in value:  # user:password@ in any URL
                tree[key] = re.sub(r"//[^@/]*@", "//***@", value)
            else:
                _hide_secrets(value)
    elif isinstance(tree, list):
        for item in tree:
            _hide_secrets(item)


async def put_config(request: Request) -> Response:
    """Replace the configuration (YAML or JSON body); a bad one is rejected, the old stays."""
    try:
        _authorize(request)
        watcher = request.app.state.watcher
        if watcher is None:
            raise BadRequest("the gateway was started without a config file to update")
        body = await read_body(request, 1024 * 1024)
        try:
            text = body.decode("utf-8")
            await watcher.apply_text(text)
        except UnicodeDecodeError:
            raise BadRequest("the configuration must be UTF-8 text") from None
        except ConfigError as exc:
            raise BadRequest(f"configuration rejected: {exc}", code="invalid_config") from None
    except ProctorError as exc:
        return error_response(exc, "openai")
    return JSONResponse({"status": "applied"})
