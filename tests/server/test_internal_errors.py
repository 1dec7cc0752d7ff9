from __future__ import annotations

import json

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from proctor.server.app import InternalErrors
from tests.gateway_server import ServerThread


async def boom(request: Request) -> Response:
    raise ZeroDivisionError("a bug")


async def fine(request: Request) -> Response:
    return Response("ok")


def test_a_bug_is_a_500_in_the_callers_shape_and_the_connection_survives() -> None:
    app = Starlette(
        routes=[
            Route("/v1/chat/completions", boom, methods=["POST"]),
            Route("/v1/messages", boom, methods=["POST"]),
            Route("/ok", fine),
        ],
        middleware=[Middleware(InternalErrors)],
    )
    server = ServerThread(app)
    server.start()
    try:
        with httpx.Client(base_url=server.url) as client:
            openai = client.post("/v1/chat/completions")
            assert openai.status_code == 500
            assert (
                json.loads(openai.text)["error"]["message"] == "internal error: ZeroDivisionError"
            )
            anthropic = client.post("/v1/messages")
            assert anthropic.json()["type"] == "error"
            assert anthropic.json()["error"]["type"] == "api_error"
            # The same keep-alive connection still answers.
            assert client.get("/ok").text == "ok"
            assert openai.headers.get("connection") != "close"
    finally:
        server.stop()
