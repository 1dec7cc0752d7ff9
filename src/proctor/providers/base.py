"""The Provider interface and the registry through which built-in and plugin adapters arrive.

A provider adapter is small: one request in, one response (or chunk stream) out. It owns its
connection pool and nothing else; retries, fallbacks and breakers wrap it from outside.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from proctor.config import ProviderConfig, TimeoutsConfig
from proctor.wire.types import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    EmbeddingRequest,
    EmbeddingResponse,
)


@dataclass(frozen=True, slots=True)
class Deployment:
    """One place a public model runs: a provider and the provider's model name."""

    public_model: str
    provider: str
    model: str
    weight: float = 1.0
    context_window: int | None = None
    timeouts: TimeoutsConfig | None = None
    pinned: bool = False
    probe_every_s: float | None = None

    @property
    def name(self) -> str:
        return f"{self.provider}/{self.model}"


class Provider(Protocol):
    name: str

    async def complete(self, req: ChatRequest, deployment: Deployment) -> ChatResponse: ...

    def stream(self, req: ChatRequest, deployment: Deployment) -> AsyncIterator[ChatChunk]: ...

    async def embed(self, req: EmbeddingRequest, deployment: Deployment) -> EmbeddingResponse: ...

    async def start(self) -> None:
        """Open connection pools; called inside the running event loop."""

    async def close(self) -> None: ...


ProviderFactory = Callable[[str, Any], Provider]

_registry: dict[str, ProviderFactory] = {}


def register(config_type: type, factory: ProviderFactory) -> None:
    """Make a provider type available; built-ins use this too, as a plugin would."""
    _registry[config_type.__name__] = factory


def create(name: str, config: ProviderConfig) -> Provider:
    factory = _registry.get(type(config).__name__)
    if factory is None:
        raise LookupError(f"no provider adapter registered for {type(config).__name__}")
    return factory(name, config)
