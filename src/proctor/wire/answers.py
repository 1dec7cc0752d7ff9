"""An answer proctor gives itself instead of a provider's (a degraded static answer, a guard's
refusal or safe-mode answer): a whole response, or a stream when the request streams. The
wire layer turns it into the caller's API shape like any other reply."""

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


def own_answer(
    request: ChatRequest, *, ident: str, served: str, text: str, finish: str, created: int
) -> ChatResponse | ChatStream:
    if not request.stream:
        return ChatResponse(
            id=ident,
            created=created,
            model=served,
            choices=[Choice(0, AssistantMessage(content=text), finish)],
            usage=Usage(),
        )

    async def chunks() -> AsyncIterator[ChatChunk]:
        yield ChatChunk(ident, created, served, [ChunkChoice(0, Delta("assistant", text))])
        yield ChatChunk(ident, created, served, [ChunkChoice(0, Delta(), finish)])
        yield ChatChunk(ident, created, served, [], usage=Usage())

    return ChatStream(chunks())
