"""The Anthropic adapter: the internal (OpenAI-shaped) request to Anthropic's Messages API
and back. Translation is in `wire.anthropic_upstream` (requests) and
`wire.anthropic_replies` (answers); this module only does the I/O."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import msgspec

from proctor.config import AnthropicProviderConfig
from proctor.errors import BadRequest, UpstreamProtocolError, UpstreamStatusError
from proctor.providers.base import Deployment
from proctor.providers.http import HttpClient
from proctor.wire.anthropic_replies import (
    AnthropicStreamError,
    AnthropicStreamTranslator,
    from_anthropic_response,
)
from proctor.wire.anthropic_upstream import to_anthropic_request
from proctor.wire.types import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    EmbeddingRequest,
    EmbeddingResponse,
)

_decoder = msgspec.json.Decoder()
# The HTTP status each mid-stream error type would have had as a response, so that the
# resilience layer classifies it (5xx, 429) as it would before the stream began.
_ERROR_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
}


class AnthropicProvider:
    def __init__(self, name: str, config: AnthropicProviderConfig) -> None:
        self.name = name
        self.config = config
        headers = {"anthropic-version": config.version, "content-type": "application/json"}
        if config.api_key:
            headers["x-api-key"] = config.api_key
        headers.update(config.headers)
        base = config.base_url.rstrip("/")
        # Accept a base URL given with or without the /v1 suffix.
        self.url = f"{base}/messages" if base.endswith("/v1") else f"{base}/v1/messages"
        self.http = HttpClient(
            name,
            timeout_s=config.timeout_s,
            connect_timeout_s=config.connect_timeout_s,
            max_connections=config.max_connections,
            headers=headers,
        )

    async def start(self) -> None:
        await self.http.start()

    async def close(self) -> None:
        await self.http.close()

    def _body(self, req: ChatRequest, deployment: Deployment, *, stream: bool) -> bytes:
        body = to_anthropic_request(req, deployment.model, self.config.default_max_tokens)
        body["stream"] = stream
        return msgspec.json.encode(body)

    async def complete(self, req: ChatRequest, deployment: Deployment) -> ChatResponse:
        answer = await self.http.post_json(self.url, self._body(req, deployment, stream=False), {})
        try:
            return from_anthropic_response(answer)
        except ValueError as exc:
            raise UpstreamProtocolError(
                self.name, f"answered with something that is not a message: {exc}"
            ) from None

    async def stream(self, req: ChatRequest, deployment: Deployment) -> AsyncIterator[ChatChunk]:
        body = self._body(req, deployment, stream=True)
        translator = AnthropicStreamTranslator()
        events = self.http.stream_events(self.url, body, {})
        try:
            async for event in events:
                for chunk in self._translate(translator, event.event, event.data):
                    yield chunk
        finally:
            # A consumer that leaves early must release the connection now, not whenever
            # the generator is collected.
            await events.aclose()
        if not translator.done:
            # A clean close without message_stop is still a truncated answer.
            raise UpstreamProtocolError(self.name, "stream ended before message_stop")

    def _translate(
        self, translator: AnthropicStreamTranslator, name: str | None, raw: str
    ) -> list[ChatChunk]:
        try:
            data: Any = _decoder.decode(raw)
            if not isinstance(data, dict):
                raise ValueError(f"event data is not an object: {raw[:120]!r}")
            return translator.feed(name, data)
        except AnthropicStreamError as exc:
            status = _ERROR_STATUS.get(exc.error_type, 500)
            raise UpstreamStatusError(self.name, status, exc.message or exc.error_type) from None
        except (ValueError, msgspec.DecodeError) as exc:
            raise UpstreamProtocolError(self.name, f"malformed stream event: {exc}") from None

    async def embed(self, req: EmbeddingRequest, deployment: Deployment) -> EmbeddingResponse:
        raise BadRequest("Anthropic has no embeddings API")
