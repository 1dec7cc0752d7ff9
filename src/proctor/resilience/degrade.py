"""Graceful degradation: the static answer a model gives when every path has failed."""

from __future__ import annotations

from collections.abc import AsyncIterator

from proctor.context import ChatStream
from proctor.wire.types import (
    AssistantMessage,
    ChatChunk,
    ChatRequest,
    ChatResponse,
    Choice,
    ChunkChoice,
    Delta,
    Usage,
)


def static_reply(
    request: ChatRequest, model: str, message: str, created: int
) -> ChatResponse | ChatStream:
    served = f"proctor/degraded:{model}"
    if not request.stream:
        return ChatResponse(
            id="chatcmpl-degraded",
            created=created,
            model=served,
            choices=[Choice(0, AssistantMessage(content=message), "stop")],
            usage=Usage(),
        )

    async def chunks() -> AsyncIterator[ChatChunk]:
        def chunk(delta: Delta, finish: str | None = None) -> ChatChunk:
            return ChatChunk(
                id="chatcmpl-degraded",
                created=created,
                model=served,
                choices=[ChunkChoice(0, delta, finish)],
            )

        yield chunk(Delta(role="assistant", content=message))
        yield chunk(Delta(), "stop")
        yield ChatChunk(
            id="chatcmpl-degraded", created=created, model=served, choices=[], usage=Usage()
        )

    return ChatStream(chunks())
