"""Stage 7, call: ask the providers, in the routed order, until one answers.

A provider error that is about the request itself (a 400) is returned at once: another
deployment would reject it too. Anything else moves on to the next deployment. A stream is
only returned once its first chunk has arrived, so a stream that fails before it produces
anything is failed over like any other call.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping

from proctor.context import Attempt, ChatStream, Context, Reply
from proctor.errors import ProctorError, UpstreamError, UpstreamStatusError
from proctor.pipeline import Next
from proctor.providers.base import Deployment, Provider
from proctor.wire.types import ChatChunk, ChatRequest


def is_final(error: UpstreamError) -> bool:
    """Errors that another deployment would repeat: the request itself is wrong."""
    return isinstance(error, UpstreamStatusError) and error.upstream_status in (400, 413, 422)


class Call:
    name = "call"

    def __init__(self, providers: Mapping[str, Provider]) -> None:
        self.providers = providers

    async def __call__(self, ctx: Context, call_next: Next) -> Reply:
        candidates: list[Deployment] = ctx.notes["candidates"]
        last_error: ProctorError | None = None
        for deployment in candidates:
            attempt = Attempt(
                deployment=deployment.name,
                provider=deployment.provider,
                model=deployment.model,
                started_ms=ctx.elapsed_ms(),
            )
            ctx.attempts.append(attempt)
            start = time.perf_counter_ns()
            try:
                reply = await self._attempt(ctx, deployment)
            except UpstreamError as exc:
                attempt.latency_ms = (time.perf_counter_ns() - start) / 1e6
                attempt.status = exc.status
                attempt.error = exc.message
                last_error = exc
                if is_final(exc):
                    raise
                continue
            attempt.latency_ms = (time.perf_counter_ns() - start) / 1e6
            attempt.status = 200
            ctx.deployment = deployment.name
            ctx.provider = deployment.provider
            return reply
        assert last_error is not None, "route always yields at least one deployment"
        raise last_error

    async def _attempt(self, ctx: Context, deployment: Deployment) -> Reply:
        provider = self.providers[deployment.provider]
        request = ctx.request
        if not isinstance(request, ChatRequest):
            return await provider.embed(request, deployment)
        if not request.stream:
            return await provider.complete(request, deployment)
        chunks = provider.stream(request, deployment)
        try:
            first = await anext(chunks)
        except StopAsyncIteration:
            raise UpstreamError(deployment.provider, "stream ended before any chunk") from None
        except BaseException:
            await _close(chunks)
            raise
        return ChatStream(_prepend(first, chunks))


async def _prepend(first: ChatChunk, rest: AsyncIterator[ChatChunk]) -> AsyncIterator[ChatChunk]:
    try:
        yield first
        async for chunk in rest:
            yield chunk
    finally:
        await _close(rest)


async def _close(chunks: AsyncIterator[ChatChunk]) -> None:
    aclose = getattr(chunks, "aclose", None)
    if aclose is not None:
        await aclose()
