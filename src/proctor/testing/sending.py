"""How the fake upstream puts a reply on the wire, and how each fault bends it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

from proctor.testing import anthropic_api, openai_api
from proctor.testing.faults import Fault

Dialect = Literal["openai", "azure", "anthropic"]
_MALFORMED = b'{"id": "chatcmpl-fake", "choices": ['
_WRONG_SHAPE = b'{"unexpected": true}'
_HTML = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
# Faults that let `after` stream events through and then strike.
_MID_STREAM = frozenset({"drop", "truncated", "malformed", "wrong_shape", "stream_error"})


@dataclass(slots=True)
class Reply:
    """A normal answer before faults are applied: a JSON body, or SSE events."""

    status: int = 200
    body: Any = None
    events: list[bytes] | None = None
    headers: dict[str, str] = field(default_factory=dict)


def encode(obj: Any) -> bytes:
    return json.dumps(obj).encode()


def sse(data: bytes, event: str | None = None) -> bytes:
    head = b"event: " + event.encode() + b"\n" if event else b""
    return head + b"data: " + data + b"\n\n"


def error(dialect: Dialect, status: int, message: str) -> Reply:
    if dialect == "anthropic":
        return Reply(status, anthropic_api.error_body(status, message))
    return Reply(status, openai_api.error_body(status, message, azure=dialect == "azure"))


class Sender:
    """Sends replies; `released` is set when the server stops, ending hangs and stalls."""

    def __init__(self, released: asyncio.Event, interval_s: Callable[[], float]) -> None:
        self.released = released
        self.interval_s = interval_s

    async def before_answer(
        self, request: web.Request, fault: Fault, dialect: Dialect
    ) -> web.StreamResponse | None:
        """Faults that replace the answer entirely; None lets the normal answer go out."""
        if fault.status is not None:
            reply = error(dialect, fault.status, f"fake upstream fault {fault.kind}")
            if fault.retry_after is not None:
                reply.headers["retry-after"] = fault.retry_after
            if fault.retry_after_ms is not None:
                reply.headers["retry-after-ms"] = fault.retry_after_ms
            return await self.send(request, reply, None, dialect)
        if fault.kind == "delay":
            await asyncio.sleep(fault.seconds)
        elif fault.kind == "hang":
            return await self._close_when_released(request, None)
        elif fault.kind == "disconnect":
            return _close(request, web.Response())
        elif fault.kind == "content_type":
            return web.Response(body=_HTML, content_type="text/html")
        return None

    async def send(
        self, request: web.Request, reply: Reply, fault: Fault | None, dialect: Dialect
    ) -> web.StreamResponse:
        kind = fault.kind if fault is not None else None
        if reply.events is None or reply.status != 200:
            return await self._send_json(request, reply, kind)
        response = web.StreamResponse(
            headers={"content-type": "text/event-stream", "cache-control": "no-cache"}
        )
        await response.prepare(request)
        if kind == "stall":
            return await self._close_when_released(request, response)
        after = fault.after if fault is not None and kind in _MID_STREAM else len(reply.events)
        interval = self.interval_s()
        for i, event in enumerate(reply.events):
            if i == after:
                return await _stream_fault(request, response, kind, dialect)
            if i and interval:
                await asyncio.sleep(interval)
            await response.write(event)
        await response.write_eof()
        return response

    async def _send_json(
        self, request: web.Request, reply: Reply, kind: str | None
    ) -> web.StreamResponse:
        payload = encode(reply.body)
        if kind == "malformed":
            payload = _MALFORMED
        elif kind == "wrong_shape":
            payload = _WRONG_SHAPE
        response = web.StreamResponse(status=reply.status, headers=reply.headers)
        response.content_type = "application/json"
        response.content_length = len(payload)
        await response.prepare(request)
        if kind == "stall":
            return await self._close_when_released(request, response)
        if kind in ("drop", "truncated"):
            await response.write(payload[: len(payload) // 2])
            return _close(request, response)
        await response.write(payload)
        await response.write_eof()
        return response

    async def _close_when_released(
        self, request: web.Request, response: web.StreamResponse | None
    ) -> web.StreamResponse:
        await self.released.wait()
        return _close(request, response or web.Response())


async def _stream_fault(
    request: web.Request, response: web.StreamResponse, kind: str | None, dialect: Dialect
) -> web.StreamResponse:
    anthropic = dialect == "anthropic"
    if kind in ("drop", "truncated"):
        return _close(request, response)
    if kind == "malformed":
        await response.write(sse(_MALFORMED, "content_block_delta" if anthropic else None))
    elif kind == "wrong_shape":
        await response.write(sse(_WRONG_SHAPE, "message_start" if anthropic else None))
    elif kind == "stream_error" and anthropic:
        body = anthropic_api.error_body(529, "fake upstream overloaded mid-stream")
        await response.write(sse(encode(body), "error"))
    elif kind == "stream_error":
        await response.write(sse(encode(openai_api.stream_error("fake mid-stream error"))))
    await response.write_eof()
    return response


def _close(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    # Closing the transport under aiohttp is how a reply is cut short: the client sees an
    # incomplete body or a disconnect, and aiohttp quietly skips the rest of the response.
    if request.transport is not None:
        request.transport.close()
    return response
