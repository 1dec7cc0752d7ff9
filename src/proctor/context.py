"""The per-request Context that every stage reads and writes, and the records it produces."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from proctor.wire.types import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    EmbeddingRequest,
    EmbeddingResponse,
    Usage,
)

Api = Literal["openai", "anthropic"]
Operation = Literal["chat", "embeddings"]


class _IdPool:
    """Request ids from a pooled block of OS randomness: 96 random bits each, unique across
    replicas without coordination, at one `os.urandom` call per 256 ids instead of one each
    (each call releases the GIL, which costs the event loop more than the bytes)."""

    def __init__(self) -> None:
        self._block = b""
        self._at = 0
        self._pid = os.getpid()

    def next(self) -> str:
        if self._at >= len(self._block) or os.getpid() != self._pid:
            self._block, self._at, self._pid = os.urandom(12 * 256), 0, os.getpid()
        start = self._at
        self._at += 12
        return "req_" + self._block[start : start + 12].hex()


new_request_id = _IdPool().next


@dataclass(slots=True)
class Tags:
    """Who and what a request is for; the axes cost and quality are reported by."""

    tenant: str | None = None
    team: str | None = None
    user: str | None = None
    feature: str | None = None
    endpoint: str | None = None
    session: str | None = None
    environment: str | None = None
    key_id: str | None = None


@dataclass(slots=True)
class Attempt:
    """One call to one deployment."""

    deployment: str
    provider: str
    model: str
    started_ms: float
    latency_ms: float = 0.0
    status: int = 0
    error: str | None = None


@dataclass(slots=True)
class Finding:
    """Something a stage noticed about the request or the reply (guards, routing, cache).

    A guard finding also says what was found (`kind`, `type`: pii / EMAIL) and where: the
    message index (None: the reply) and the start and end offsets in that message's text.
    `detail` says why in words; no finding ever holds the sensitive value itself.
    """

    stage: str
    rule: str
    action: str
    score: float | None = None
    detail: str | None = None
    kind: str | None = None
    type: str | None = None
    message: int | None = None
    start: int | None = None
    end: int | None = None


class ChatStream:
    """A streamed reply: an async iterator of chunks that stages may wrap."""

    __slots__ = ("chunks",)

    def __init__(self, chunks: AsyncIterator[ChatChunk]) -> None:
        self.chunks = chunks

    def __aiter__(self) -> AsyncIterator[ChatChunk]:
        return self.chunks


Reply = ChatResponse | ChatStream | EmbeddingResponse


@dataclass(slots=True)
class Context:
    """Everything known about one request as it moves through the pipeline."""

    request: ChatRequest | EmbeddingRequest
    api: Api = "openai"
    request_id: str = field(default_factory=new_request_id)
    headers: dict[str, str] = field(default_factory=dict)
    client_host: str | None = None
    tags: Tags = field(default_factory=Tags)
    public_model: str = ""
    started_at: float = field(default_factory=time.time)
    started_ns: int = field(default_factory=time.perf_counter_ns)
    # Inclusive time spent in each stage, in nanoseconds, in pipeline order.
    stage_ns: dict[str, int] = field(default_factory=dict)
    # When each stage started, in nanoseconds after `started_ns` (trace spans are built from it).
    stage_start_ns: dict[str, int] = field(default_factory=dict)
    attempts: list[Attempt] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    deployment: str | None = None
    provider: str | None = None
    deployment_model: str | None = None  # the provider's name for the model that answered
    served_model: str | None = None
    system_fingerprint: str | None = None
    usage: Usage | None = None
    cost_usd: float | None = None
    status: int = 200
    error: str | None = None
    ttft_ms: float | None = None
    finished_ns: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    # Free-form annotations for later stages (route reason, prompt version...).
    notes: dict[str, Any] = field(default_factory=dict)
    # Run once when the request is over: after the reply, or after a stream's last chunk.
    on_finish: list[Callable[[], None]] = field(default_factory=list)

    def finish(self) -> None:
        if self.finished_ns is not None:
            return
        self.finished_ns = time.perf_counter_ns()
        callbacks, self.on_finish = self.on_finish, []
        for callback in callbacks:
            callback()

    @property
    def latency_ms(self) -> float:
        end = self.finished_ns if self.finished_ns is not None else time.perf_counter_ns()
        return (end - self.started_ns) / 1e6

    @property
    def operation(self) -> Operation:
        return "chat" if isinstance(self.request, ChatRequest) else "embeddings"

    @property
    def stream(self) -> bool:
        return isinstance(self.request, ChatRequest) and self.request.stream

    def elapsed_ms(self) -> float:
        return (time.perf_counter_ns() - self.started_ns) / 1e6

    def stage_timings_ms(self) -> dict[str, float]:
        """Exclusive time per stage: each stage's own work, without the stages inside it."""
        names = list(self.stage_ns)
        result: dict[str, float] = {}
        for i, name in enumerate(names):
            inner = self.stage_ns[names[i + 1]] if i + 1 < len(names) else 0
            result[name] = max(0, self.stage_ns[name] - inner) / 1e6
        return result
