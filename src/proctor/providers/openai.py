"""The OpenAI chat-completions adapter, shared by OpenAI, Azure and every compatible server.

The wire format is proctor's own internal form, so translation is small: pick the output
limit's field name and drop or rename the fields a server rejects (its profile), always ask
for usage on streams, and decode the answer strictly. Anything that is not the API's shape
becomes an `UpstreamProtocolError` naming the provider, never a crash further down.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any, Literal, TypeVar

import msgspec

from proctor.config import ConfigError, OpenAIProviderConfig
from proctor.errors import UpstreamProtocolError, UpstreamStatusError
from proctor.providers import profiles
from proctor.providers.base import Deployment
from proctor.providers.http import HttpClient, error_message
from proctor.providers.profiles import Profile
from proctor.wire.openai import encode_request
from proctor.wire.types import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    EmbeddingRequest,
    EmbeddingResponse,
    StreamOptions,
)

Endpoint = Literal["chat/completions", "embeddings"]
R = TypeVar("R", ChatResponse, EmbeddingResponse)

_CHAT_FIELDS = frozenset(f for f in ChatRequest.__struct_fields__ if f != "extra")
_chunk_decoder = msgspec.json.Decoder(ChatChunk)
_any_decoder = msgspec.json.Decoder()
_NO_HEADERS: Mapping[str, str] = {}


# -- translation (pure) --------------------------------------------------------------------


def chat_body(req: ChatRequest, model: str, profile: Profile, *, stream: bool) -> bytes:
    """The upstream body for a chat request, fitted to the server's profile."""
    changes: dict[str, Any] = {"stream": stream, "stream_options": None}
    # Proctor needs usage on every stream to account for cost; the front door removes the
    # usage chunk again when the client did not ask for it.
    if stream and profile.stream_usage:
        changes["stream_options"] = StreamOptions(include_usage=True)
    field = profile.max_tokens_field
    if field is not None and req.output_limit is not None:
        other = "max_completion_tokens" if field == "max_tokens" else "max_tokens"
        changes[field], changes[other] = req.output_limit, None
    extra = dict(req.extra)
    for name in profile.drop:
        if name in _CHAT_FIELDS:
            changes[name] = None
        else:
            extra.pop(name, None)
    for ours, theirs in profile.rename:
        value = getattr(req, ours) if ours in _CHAT_FIELDS else extra.pop(ours, None)
        if value is not None:
            if ours in _CHAT_FIELDS:
                changes[ours] = None
            extra[theirs] = value
    return encode_request(msgspec.structs.replace(req, **changes, extra=extra), model)


def decode_answer(provider: str, obj: Any, kind: type[R]) -> R:
    """A decoded JSON answer as the expected struct, or a protocol error naming the provider."""
    try:
        return msgspec.convert(obj, kind)
    except msgspec.ValidationError as exc:
        raise UpstreamProtocolError(
            provider, f"answered with something that is not a {kind.__name__}: {exc}"
        ) from None


def decode_chunk(provider: str, data: str) -> ChatChunk:
    try:
        return _chunk_decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise (
            in_band_error(provider, data)
            or UpstreamProtocolError(
                provider, f"sent a stream event that is not a chat chunk ({exc}): {data[:120]!r}"
            )
        ) from None


def in_band_error(provider: str, data: str) -> UpstreamStatusError | None:
    """An error the server reported inside a stream that had already started with a 200."""
    try:
        obj = _any_decoder.decode(data)
    except msgspec.DecodeError:
        return None
    error = obj.get("error") if isinstance(obj, dict) else None
    if error is None:
        return None
    code = error.get("code") if isinstance(error, dict) else None
    # vLLM puts the HTTP status in `code`; OpenAI puts a string there or nothing.
    status = code if isinstance(code, int) and 400 <= code <= 599 else 500
    return UpstreamStatusError(provider, status, error_message(data.encode()))


# -- the adapter ---------------------------------------------------------------------------


class OpenAIWireProvider:
    """Everything but the URL and the credentials, which subclasses supply."""

    def __init__(
        self,
        name: str,
        profile: Profile,
        *,
        timeout_s: float,
        connect_timeout_s: float,
        max_connections: int,
        headers: Mapping[str, str],
    ) -> None:
        self.name = name
        self.profile = profile
        self.client = HttpClient(
            name,
            timeout_s=timeout_s,
            connect_timeout_s=connect_timeout_s,
            max_connections=max_connections,
            headers={"Content-Type": "application/json", **headers},
        )

    def url(self, deployment: Deployment, endpoint: Endpoint) -> str:
        raise NotImplementedError

    async def start(self) -> None:
        await self.client.start()

    async def close(self) -> None:
        await self.client.close()

    async def complete(self, req: ChatRequest, deployment: Deployment) -> ChatResponse:
        body = chat_body(req, deployment.model, self.profile, stream=False)
        answer = await self.client.post_json(
            self.url(deployment, "chat/completions"), body, _NO_HEADERS
        )
        return decode_answer(self.name, answer, ChatResponse)

    async def stream(self, req: ChatRequest, deployment: Deployment) -> AsyncIterator[ChatChunk]:
        body = chat_body(req, deployment.model, self.profile, stream=True)
        url = self.url(deployment, "chat/completions")
        finished = False
        events = self.client.stream_events(url, body, _NO_HEADERS)
        try:
            async for event in events:
                if event.data == "[DONE]":
                    return
                chunk = decode_chunk(self.name, event.data)
                # Azure opens with a choice-less chunk of content-filter results: no news.
                if not chunk.choices and chunk.usage is None:
                    continue
                finished = finished or any(c.finish_reason for c in chunk.choices)
                yield chunk
        finally:
            # Leaving early (at [DONE], or the consumer went away) must release the
            # connection now, not whenever the generator is collected.
            await events.aclose()
        # Without [DONE] a stream may still be whole (some servers omit it), but one that
        # never said why it finished was cut short.
        if not finished:
            raise UpstreamProtocolError(self.name, "the stream ended before the answer did")

    async def embed(self, req: EmbeddingRequest, deployment: Deployment) -> EmbeddingResponse:
        body = encode_request(req, deployment.model)
        answer = await self.client.post_json(self.url(deployment, "embeddings"), body, _NO_HEADERS)
        return decode_answer(self.name, answer, EmbeddingResponse)


class OpenAIProvider(OpenAIWireProvider):
    """OpenAI, or any OpenAI-compatible server described by a profile."""

    def __init__(self, name: str, config: OpenAIProviderConfig) -> None:
        try:
            profile = profiles.get(config.profile)
        except ValueError as exc:
            raise ConfigError(f"`$.providers.{name}.profile`: {exc}") from None
        self.base_url = _base_url(name, config, profile).rstrip("/")
        headers: dict[str, str] = {}
        if config.api_key:
            headers["Authorization"] = f"Bearer {config.api_key}"
        elif profile.requires_api_key and self.base_url == profile.base_url:
            raise ConfigError(
                f"`$.providers.{name}.api_key` is required by profile '{profile.name}'"
            )
        if config.organization:
            headers["OpenAI-Organization"] = config.organization
        super().__init__(
            name,
            profile,
            timeout_s=config.timeout_s,
            connect_timeout_s=config.connect_timeout_s,
            max_connections=config.max_connections,
            headers={**headers, **config.headers},
        )

    def url(self, deployment: Deployment, endpoint: Endpoint) -> str:
        return f"{self.base_url}/{endpoint}"


def _base_url(name: str, config: OpenAIProviderConfig, profile: Profile) -> str:
    """The configured base_url, else wherever the profile's server usually lives."""
    if config.base_url is not None:
        return config.base_url
    if profile.base_url is None:
        raise ConfigError(f"`$.providers.{name}.base_url` is required by profile '{profile.name}'")
    return profile.base_url
