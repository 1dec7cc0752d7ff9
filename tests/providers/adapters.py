"""The adapters the conformance suite runs over, each built against the fake upstream."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from proctor.config import (
    AnthropicProviderConfig,
    AzureProviderConfig,
    OpenAIProviderConfig,
    SimProviderConfig,
)
from proctor.providers import create
from proctor.providers.base import Deployment, Provider
from proctor.wire.types import ChatChunk, ChatRequest, Usage
from tests.fakes.upstream import FAULT_HEADER

# Builds a provider config from (fake upstream base URL, extra headers, overrides).
ConfigFactory = Callable[[str, dict[str, str], dict[str, Any]], Any]


@dataclass(frozen=True)
class Adapter:
    id: str
    config: ConfigFactory
    http: bool = True  # False: the simulator, which has no wire and simulates its faults
    embeddings: bool = True


def _openai(base: str, headers: dict[str, str], over: dict[str, Any]) -> OpenAIProviderConfig:
    return OpenAIProviderConfig(api_key="sk-test", base_url=f"{base}/v1", headers=headers, **over)


def _vllm(base: str, headers: dict[str, str], over: dict[str, Any]) -> OpenAIProviderConfig:
    return OpenAIProviderConfig(profile="vllm", base_url=f"{base}/v1", headers=headers, **over)


def _azure(base: str, headers: dict[str, str], over: dict[str, Any]) -> AzureProviderConfig:
    return AzureProviderConfig(api_key="azure-key", base_url=base, headers=headers, **over)


def _anthropic(base: str, headers: dict[str, str], over: dict[str, Any]) -> AnthropicProviderConfig:
    return AnthropicProviderConfig(api_key="sk-ant", base_url=base, headers=headers, **over)


def _sim(base: str, headers: dict[str, str], over: dict[str, Any]) -> SimProviderConfig:
    return SimProviderConfig(**over)


ADAPTERS = [
    Adapter("sim", _sim, http=False),
    Adapter("openai", _openai),
    Adapter("vllm", _vllm),
    Adapter("azure", _azure),
    Adapter("anthropic", _anthropic, embeddings=False),
]

DEPLOYMENT = Deployment(public_model="chat", provider="p", model="fake-chat")


def build(adapter: Adapter, base: str, *, fault: str | None = None, **over: Any) -> Provider:
    headers = {FAULT_HEADER: fault} if fault else {}
    return create(adapter.id, adapter.config(base, headers, over))


@asynccontextmanager
async def running(provider: Provider) -> AsyncIterator[Provider]:
    await provider.start()
    try:
        yield provider
    finally:
        await provider.close()


async def collect(provider: Provider, req: ChatRequest) -> list[ChatChunk]:
    return [chunk async for chunk in provider.stream(req, DEPLOYMENT)]


def streamed_text(chunks: list[ChatChunk]) -> str:
    return "".join(c.delta.content or "" for chunk in chunks for c in chunk.choices)


def streamed_usage(chunks: list[ChatChunk]) -> Usage:
    usages = [chunk.usage for chunk in chunks if chunk.usage is not None]
    assert len(usages) == 1, f"expected one usage chunk, got {len(usages)}"
    return usages[0]


def finish_reasons(chunks: list[ChatChunk]) -> list[str]:
    return [c.finish_reason for chunk in chunks for c in chunk.choices if c.finish_reason]
