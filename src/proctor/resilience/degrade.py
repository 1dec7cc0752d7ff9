"""Graceful degradation: the static answer a model gives when every path has failed."""

from __future__ import annotations

from proctor.context import ChatStream
from proctor.wire.answers import own_answer
from proctor.wire.types import ChatRequest, ChatResponse


def static_reply(
    request: ChatRequest, model: str, message: str, created: int
) -> ChatResponse | ChatStream:
    return own_answer(
        request,
        ident="chatcmpl-degraded",
        served=f"proctor/degraded:{model}",
        text=message,
        finish="stop",
        created=created,
    )
