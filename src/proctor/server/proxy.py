"""The proxy API: OpenAI chat completions and embeddings, Anthropic messages, model list."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from proctor.app import Gateway
from proctor.context import Api, ChatStream, Context, Reply
from proctor.errors import ProctorError
from proctor.server.http import JSON, error_response, read_body, reply_headers
from proctor.wire import anthropic as anthropic_wire
from proctor.wire import openai as openai_wire
from proctor.wire import sse
from proctor.wire.types import ChatChunk, ChatRequest, ChatResponse, EmbeddingRequest

Parse = Callable[[bytes], ChatRequest | EmbeddingRequest]


def _gateway(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


async def _prepare(request: Request, api: Api, parse: Parse) -> Context | Response:
    """Read and parse the body into a Context, or answer the error (and log it)."""
    gateway = _gateway(request)
    headers = {k: v for k, v in request.headers.items()}
    client = request.client.host if request.client else None
    try:
        body = await read_body(request, gateway.config.server.max_body_bytes)
        parsed = parse(body)
    except ProctorError as exc:
        ctx = Context(request=ChatRequest(model="", messages=[]), api=api, headers=headers)
        ctx.client_host = client
        gateway.record_rejected(ctx, exc)
        return error_response(exc, api, ctx)
    return Context(request=parsed, api=api, headers=headers, client_host=client)


async def _serve(request: Request, api: Api, parse: Parse) -> tuple[Context, Reply] | Response:
    """Parse, run the pipeline, and return the reply, or the error response to send."""
    prepared = await _prepare(request, api, parse)
    if isinstance(prepared, Response):
        return prepared
    try:
        reply = await _gateway(request).run(prepared)
    except ProctorError as exc:
        return error_response(exc, api, prepared)
    return prepared, reply


async def chat_completions(request: Request) -> Response:
    limits = _gateway(request).runtime.limits
    served = await _serve(request, "openai", lambda b: openai_wire.parse_chat_request(b, limits))
    if isinstance(served, Response):
        return served
    ctx, reply = served
    if isinstance(reply, ChatStream):
        assert isinstance(ctx.request, ChatRequest)
        return StreamingResponse(
            _openai_sse(reply, ctx.request),
            media_type="text/event-stream",
            headers=reply_headers(ctx),
        )
    return Response(openai_wire.encode(reply), media_type=JSON, headers=reply_headers(ctx))


async def _openai_sse(stream: ChatStream, req: ChatRequest) -> AsyncIterator[bytes]:
    wants_usage = req.stream_options is not None and req.stream_options.include_usage
    try:
        async for chunk in stream:
            if not wants_usage and chunk.usage is not None:
                if not chunk.choices:
                    continue  # the usage-only chunk proctor asked upstream for itself
                chunk.usage = None
            yield sse.encode_data(openai_wire.encode(chunk))
    except ProctorError as exc:
        # Headers are gone; an error event is the only honest way to end the stream.
        yield sse.encode_data(openai_wire.error_body(exc))
        return
    yield sse.DONE


async def embeddings(request: Request) -> Response:
    served = await _serve(request, "openai", openai_wire.parse_embedding_request)
    if isinstance(served, Response):
        return served
    ctx, reply = served
    if isinstance(reply, ChatStream):  # embeddings never stream
        raise TypeError("unexpected stream in reply to an embeddings request")
    return Response(openai_wire.encode(reply), media_type=JSON, headers=reply_headers(ctx))


async def messages(request: Request) -> Response:
    """Anthropic's Messages API, answered by whichever deployment the model routes to."""
    limits = _gateway(request).runtime.limits
    served = await _serve(
        request, "anthropic", lambda b: anthropic_wire.parse_messages_request(b, limits)
    )
    if isinstance(served, Response):
        return served
    ctx, reply = served
    # Routing names the public model; an answer given before it (a guard's refusal or safe
    # mode) still names the model the caller asked for.
    model = ctx.public_model or getattr(ctx.request, "model", "")
    if isinstance(reply, ChatStream):
        return StreamingResponse(
            _anthropic_sse(reply.chunks, model),
            media_type="text/event-stream",
            headers=reply_headers(ctx),
        )
    if not isinstance(reply, ChatResponse):  # only chat requests come through this door
        raise TypeError(f"unexpected reply {type(reply).__name__} to a messages request")
    body = anthropic_wire.encode_message(reply, model)
    return Response(body, media_type=JSON, headers=reply_headers(ctx))


async def _anthropic_sse(chunks: AsyncIterator[ChatChunk], model: str) -> AsyncIterator[bytes]:
    try:
        async for event in anthropic_wire.stream_events(chunks, model):
            yield event
    except ProctorError as exc:
        yield sse.encode_event("error", anthropic_wire.error_body(exc))


async def list_models(request: Request) -> Response:
    runtime = _gateway(request).runtime
    created = int(time.time())
    data = [
        {"id": name, "object": "model", "created": created, "owned_by": "proctor"}
        for name in runtime.config.models
    ]
    return Response(openai_wire.encode({"object": "list", "data": data}), media_type=JSON)
