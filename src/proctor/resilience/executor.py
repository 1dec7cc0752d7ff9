"""The attempt loop: try the routed deployments in order with retries, timeouts and breakers.

For each step (a deployment, and the config of the public model it belongs to):
- skip it at once when its breaker is open or the prompt cannot fit its context window;
- try it, retrying failures worth retrying with exponential backoff and full jitter (honouring
  Retry-After), within the deployment's timeouts and the request's overall deadline;
- on a failure that matches the model's `fallback_on` triggers move to the next step, on any
  other failure (a bad request) stop: every deployment would refuse it.
A stream counts as answered once its first chunk arrived; until then it fails over like any
call. After that, a stall or drop ends the stream with a clean error instead of a hang.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence

from proctor.config import TimeoutsConfig
from proctor.context import Attempt, ChatStream, Context, Reply
from proctor.cost.tokenizer import estimate_prompt_tokens
from proctor.errors import (
    BadRequest,
    ProctorError,
    ServiceUnavailable,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamTimeout,
)
from proctor.providers.base import Deployment, Provider
from proctor.resilience.balance import Balancer
from proctor.resilience.breaker import BreakerStore
from proctor.resilience.classify import RETRYABLE, classify, context_window
from proctor.resilience.hedge import race
from proctor.resilience.pins import PinWatch
from proctor.resilience.steps import Skipped, Step
from proctor.wire.types import ChatChunk, ChatRequest, ChatResponse, EmbeddingResponse

Sleep = Callable[[float], Awaitable[None]]


class Executor:
    def __init__(
        self,
        providers: Mapping[str, Provider],
        breakers: BreakerStore,
        balancer: Balancer,
        pins: PinWatch,
        *,
        rng: random.Random | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.providers = providers
        self.breakers = breakers
        self.balancer = balancer
        self.pins = pins
        self.rng = rng or random.Random()
        self.sleep = sleep

    async def run(self, ctx: Context, steps: Sequence[Step]) -> Reply:
        deadline = time.monotonic() + steps[0].model.deadline_s
        last_error: ProctorError | None = None
        index = 0
        while index < len(steps):
            step = steps[index]
            hedge = step.model.hedge if index == 0 else None
            partner = self._next_allowed(ctx, steps, index + 1) if hedge else None
            try:
                if hedge is not None and partner is not None:
                    return await race(self, ctx, step, steps[partner], hedge.after_ms, deadline)
                return await self.try_step(ctx, step, deadline)
            except Skipped as skipped:
                if isinstance(skipped.__cause__, ProctorError):
                    last_error = skipped.__cause__
            except UpstreamError as exc:
                trigger = classify(exc)
                if trigger is None or trigger not in step.model.fallback_on:
                    raise
                last_error = exc
            index = partner + 1 if partner is not None and hedge is not None else index + 1
            if time.monotonic() >= deadline:
                break
        if last_error is not None:
            raise last_error
        cooldown = min(step.model.breaker.cooldown_s for step in steps)
        raise ServiceUnavailable(
            "every deployment of this model is unavailable (circuit breakers open)",
            code="no_healthy_deployment",
            headers={"retry-after": str(max(1, round(cooldown)))},
        )

    def _next_allowed(self, ctx: Context, steps: Sequence[Step], start: int) -> int | None:
        for index in range(start, len(steps)):
            if self.breakers.state(steps[index].deployment.name).value == "closed":
                return index
        return None

    async def try_step(self, ctx: Context, step: Step, deadline: float) -> Reply:
        """One deployment, with its retries. Raises Skipped when it was not tried at all."""
        deployment, model = step.deployment, step.model
        self._check_fits(ctx, deployment)
        retry = model.retry
        for n in range(retry.attempts + 1):
            if not self.breakers.allow(deployment.name, model.breaker):
                ctx.attempts.append(_skipped(ctx, deployment, "circuit breaker open"))
                raise Skipped()
            try:
                return await self.attempt(ctx, step, deadline)
            except UpstreamError as exc:
                delay = self._retry_delay(exc, n, step, deadline)
                if delay is None:
                    raise
                await self.sleep(delay)
        raise AssertionError("unreachable: the last attempt either returns or raises")

    def _retry_delay(self, exc: UpstreamError, n: int, step: Step, deadline: float) -> float | None:
        """Seconds to wait before retrying the same deployment, or None to move on."""
        retry = step.model.retry
        if n >= retry.attempts or classify(exc) not in RETRYABLE:
            return None
        delay = self.rng.uniform(0, min(retry.max_backoff_s, retry.backoff_s * 2**n))
        retry_after = getattr(exc, "retry_after_s", None)
        if retry_after is not None:
            if retry_after > retry.max_retry_after_s:
                return None
            delay = max(delay, retry_after)
        if time.monotonic() + delay >= deadline:
            return None
        return delay

    def _check_fits(self, ctx: Context, deployment: Deployment) -> None:
        request = ctx.request
        if not isinstance(request, ChatRequest):
            return
        window = context_window(deployment.model, deployment.context_window)
        if window is None:
            return
        # Admission already counted the prompt (with the chain's first model's tokenizer);
        # close enough for every deployment of the chain.
        needed = ctx.notes.get("prompt_tokens_estimate")
        if needed is None:
            needed = ctx.notes["prompt_tokens_estimate"] = estimate_prompt_tokens(
                request, deployment.model
            )
        needed += request.output_limit or 0
        if needed > window:
            ctx.attempts.append(
                _skipped(ctx, deployment, f"needs ~{needed} tokens; window is {window}")
            )
            error = BadRequest(
                f"the prompt needs ~{needed} tokens, more than the context window of every "
                "deployment tried",
                code="context_length_exceeded",
            )
            raise Skipped() from error

    async def attempt(self, ctx: Context, step: Step, deadline: float) -> Reply:
        deployment = step.deployment
        timeouts = deployment.timeouts or step.model.timeouts
        attempt = Attempt(deployment.name, deployment.provider, deployment.model, ctx.elapsed_ms())
        ctx.attempts.append(attempt)
        start = time.perf_counter_ns()
        budget = max(0.001, min(timeouts.total_s, deadline - time.monotonic()))
        self.balancer.started(deployment.name)
        streaming = False
        try:
            reply = await self._call(ctx, deployment, timeouts, budget)
            streaming = isinstance(reply, ChatStream)
        except UpstreamError as exc:
            self._failed(attempt, step, exc, start)
            raise
        except asyncio.CancelledError:
            attempt.latency_ms, attempt.error = _ms_since(start), "cancelled"
            raise
        finally:
            if not streaming:
                self.balancer.finished(deployment.name, _ms_since(start))
        attempt.latency_ms = _ms_since(start)
        attempt.status = 200
        ctx.deployment, ctx.provider = deployment.name, deployment.provider
        ctx.deployment_model = deployment.model
        if isinstance(reply, ChatStream):
            # A stream's outcome, for the breaker, is known only at its end.
            return ChatStream(self._guard_stream(ctx, step, reply.chunks, timeouts, start))
        self.breakers.record(deployment.name, step.model.breaker, True)
        if isinstance(reply, ChatResponse | EmbeddingResponse):
            fingerprint = reply.system_fingerprint if isinstance(reply, ChatResponse) else None
            self.pins.observe(deployment, reply.model, fingerprint)
        return reply

    def _failed(self, attempt: Attempt, step: Step, exc: UpstreamError, start: int) -> None:
        attempt.latency_ms = _ms_since(start)
        attempt.status = exc.status
        attempt.error = exc.message
        if classify(exc) is not None:  # a bad request says nothing about the deployment
            self.breakers.record(step.deployment.name, step.model.breaker, False)

    async def _call(
        self, ctx: Context, deployment: Deployment, timeouts: TimeoutsConfig, budget: float
    ) -> Reply:
        provider = self.providers[deployment.provider]
        request = ctx.request
        try:
            if not isinstance(request, ChatRequest):
                async with asyncio.timeout(budget):
                    return await provider.embed(request, deployment)
            if not request.stream:
                async with asyncio.timeout(budget):
                    return await provider.complete(request, deployment)
            chunks = provider.stream(request, deployment)
            try:
                async with asyncio.timeout(min(budget, timeouts.first_token_s)):
                    head = await _until_content(chunks)
            except BaseException:
                await _close(chunks)
                raise
        except TimeoutError:
            raise UpstreamTimeout(
                deployment.provider, f"no answer from {deployment.name} within the time limit"
            ) from None
        if not head or not _has_content(head[-1]):
            await _close(chunks)
            raise UpstreamProtocolError(deployment.provider, "stream ended before any content")
        return ChatStream(_prepend(head, chunks))

    async def _guard_stream(
        self,
        ctx: Context,
        step: Step,
        chunks: AsyncIterator[ChatChunk],
        timeouts: TimeoutsConfig,
        start: int,
    ) -> AsyncIterator[ChatChunk]:
        """Pass chunks on; a stall longer than idle_s, or the total limit, ends the stream."""
        deployment = step.deployment
        ttft_ms = _ms_since(start)
        ends_at = time.monotonic() + timeouts.total_s - ttft_ms / 1000
        served: tuple[str, str | None] | None = None
        ok = True  # a client that leaves early says nothing against the deployment
        try:
            while True:
                wait = min(timeouts.idle_s, ends_at - time.monotonic())
                try:
                    async with asyncio.timeout(max(0.001, wait)):
                        chunk = await anext(chunks)
                except StopAsyncIteration:
                    break
                except TimeoutError:
                    raise UpstreamTimeout(
                        deployment.provider, f"stream from {deployment.name} stalled"
                    ) from None
                if served is None:
                    served = (chunk.model, chunk.system_fingerprint)
                yield chunk
        except UpstreamError:
            ok = False
            raise
        finally:
            self.breakers.record(deployment.name, step.model.breaker, ok)
            self.balancer.finished(deployment.name, ttft_ms)
            await _close(chunks)
        if served is not None:
            self.pins.observe(deployment, served[0], served[1])


def _skipped(ctx: Context, deployment: Deployment, reason: str) -> Attempt:
    return Attempt(
        deployment.name,
        deployment.provider,
        deployment.model,
        ctx.elapsed_ms(),
        status=0,
        error=f"skipped: {reason}",
    )


def _ms_since(start_ns: int) -> float:
    return (time.perf_counter_ns() - start_ns) / 1e6


def _has_content(chunk: ChatChunk) -> bool:
    if chunk.usage is not None:
        return True
    for choice in chunk.choices:
        delta = choice.delta
        if delta.content or delta.tool_calls or delta.refusal or choice.finish_reason:
            return True
    return False


async def _until_content(chunks: AsyncIterator[ChatChunk]) -> list[ChatChunk]:
    """Chunks up to and including the first with content; until then nothing was sent to the
    client, so a failure here can still fail over. Empty if the stream ends first."""
    head: list[ChatChunk] = []
    async for chunk in chunks:
        head.append(chunk)
        if _has_content(chunk):
            break
    return head


async def _prepend(
    head: list[ChatChunk], rest: AsyncIterator[ChatChunk]
) -> AsyncIterator[ChatChunk]:
    for chunk in head:
        yield chunk
    async for chunk in rest:
        yield chunk


async def _close(chunks: AsyncIterator[ChatChunk]) -> None:
    aclose = getattr(chunks, "aclose", None)
    if aclose is not None:
        await aclose()
