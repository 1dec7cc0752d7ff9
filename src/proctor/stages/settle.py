"""Stage 9, settle: what was served and what it used, for streams as for whole replies.

For a stream, usage arrives with the last chunks; the stage watches the chunks as they pass
and records time to first token, the served model and the usage when they appear.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from proctor.context import ChatStream, Context, Reply
from proctor.pipeline import Next
from proctor.wire.types import ChatChunk, ChatResponse, EmbeddingResponse, Usage


class Settle:
    name = "settle"

    async def __call__(self, ctx: Context, call_next: Next) -> Reply:
        reply = await call_next(ctx)
        if isinstance(reply, ChatStream):
            return ChatStream(_watch(ctx, reply.chunks))
        ctx.ttft_ms = ctx.elapsed_ms()
        ctx.served_model = reply.model
        if isinstance(reply, ChatResponse):
            ctx.usage = reply.usage
            ctx.system_fingerprint = reply.system_fingerprint
        elif isinstance(reply, EmbeddingResponse):
            ctx.usage = Usage(
                prompt_tokens=reply.usage.prompt_tokens, total_tokens=reply.usage.total_tokens
            )
        return reply


async def _watch(ctx: Context, chunks: AsyncIterator[ChatChunk]) -> AsyncIterator[ChatChunk]:
    first = True
    async for chunk in chunks:
        if first:
            ctx.ttft_ms = (time.perf_counter_ns() - ctx.started_ns) / 1e6
            ctx.served_model = chunk.model
            ctx.system_fingerprint = chunk.system_fingerprint
            first = False
        if chunk.usage is not None:
            ctx.usage = chunk.usage
        yield chunk
