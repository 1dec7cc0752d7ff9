"""An in-process provider whose behaviour per call is scripted, for the executor's logic.

The adapters themselves are tested over real HTTP against the fake upstream; this double
stands in for a provider only where the executor's decisions are what is under test.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict, deque
from collections.abc import AsyncIterator

from proctor.errors import (
    UpstreamConnectionError,
    UpstreamProtocolError,
    UpstreamStatusError,
)
from proctor.providers.base import Deployment
from proctor.wire.types import (
    AssistantMessage,
    ChatChunk,
    ChatRequest,
    ChatResponse,
    Choice,
    ChunkChoice,
    Delta,
    EmbeddingRequest,
    EmbeddingResponse,
    Usage,
)


class Scripted:
    """`script[model]` is a queue of behaviours; when empty the deployment answers "ok".

    Behaviours: "ok", "slow:<s>", "hang", "500", "503", "400", "429:<retry-after s>",
    "refused", "garbage", "stall" (stream: first chunk, then silence), "drop" (stream: first
    chunk, then a dropped connection).
    """

    name = "scripted"

    def __init__(self) -> None:
        self.script: dict[str, deque[str]] = defaultdict(deque)
        self.calls: list[str] = []
        self.served: dict[str, str] = {}

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def _next(self, deployment: Deployment) -> str:
        self.calls.append(deployment.model)
        queue = self.script[deployment.model]
        return queue.popleft() if queue else "ok"

    async def _fail_or_wait(self, behaviour: str) -> None:
        kind, _, arg = behaviour.partition(":")
        if kind == "slow":
            await asyncio.sleep(float(arg))
        elif kind == "hang":
            await asyncio.sleep(3600)
        elif kind in ("500", "503", "400"):
            raise UpstreamStatusError(self.name, int(kind), f"scripted {kind}")
        elif kind == "429":
            raise UpstreamStatusError(self.name, 429, "slow down", retry_after_s=float(arg or 0))
        elif kind == "refused":
            raise UpstreamConnectionError(self.name, "connection refused")
        elif kind == "garbage":
            raise UpstreamProtocolError(self.name, "not JSON")

    async def complete(self, req: ChatRequest, deployment: Deployment) -> ChatResponse:
        await self._fail_or_wait(self._next(deployment))
        return ChatResponse(
            id="r",
            created=0,
            model=self.served.get(deployment.model, deployment.model),
            choices=[Choice(0, AssistantMessage(content=f"answer from {deployment.model}"))],
            usage=Usage(prompt_tokens=1, completion_tokens=1, total_tokens=2),
        )

    async def stream(self, req: ChatRequest, deployment: Deployment) -> AsyncIterator[ChatChunk]:
        behaviour = self._next(deployment)
        if behaviour not in ("stall", "drop"):
            await self._fail_or_wait(behaviour)

        def chunk(text: str) -> ChatChunk:
            return ChatChunk(
                id="c",
                created=0,
                model=deployment.model,
                choices=[ChunkChoice(0, Delta(content=text))],
            )

        yield chunk(f"from {deployment.model}")
        if behaviour == "stall":
            await asyncio.sleep(3600)
        if behaviour == "drop":
            raise UpstreamProtocolError(self.name, "connection dropped")
        yield chunk(" end")

    async def embed(self, req: EmbeddingRequest, deployment: Deployment) -> EmbeddingResponse:
        raise NotImplementedError
