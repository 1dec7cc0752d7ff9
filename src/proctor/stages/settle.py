"""Stage 9, settle: what was served, what it used and what it cost, streams included.

For a stream, usage arrives with the last chunks; the stage watches the chunks as they pass
and records time to first token, the served model, the usage and the cost at the end.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

from proctor.context import ChatStream, Context, Finding, Reply
from proctor.cost.pricing import Price, PriceTable, cost_usd
from proctor.cost.tokenizer import count_tokens, estimate_prompt_tokens
from proctor.pipeline import Next
from proctor.wire.types import ChatChunk, ChatRequest, ChatResponse, EmbeddingResponse, Usage

log = logging.getLogger("proctor.cost")
# ctx.notes key: characters of a reply generated but never sent (an output guard stopped it).
UNSENT_NOTE = "unsent_chars"
Emit = Callable[[str, str, dict[str, Any]], None]


class Pricer:
    """Prices a finished request; a model missing from the table is counted, never zero."""

    def __init__(self, table: PriceTable, sim_providers: frozenset[str], emit: Emit) -> None:
        self.table = table
        self.sim_providers = sim_providers
        self.emit = emit
        self.unpriced: Counter[str] = Counter()

    def for_deployment(self, provider: str, model: str) -> Price | None:
        # The simulator serves `sim/<model>`; the table prices it under that name.
        return self.table.price_for(f"sim/{model}" if provider in self.sim_providers else model)

    def cost(self, ctx: Context) -> float | None:
        usage = ctx.usage
        if usage is None or ctx.provider is None or ctx.provider == "proctor":
            return None
        price = self.table.price_for(ctx.served_model) if ctx.served_model else None
        if price is None and ctx.deployment_model is not None:
            price = self.for_deployment(ctx.provider, ctx.deployment_model)
        if price is None:
            self._unpriced(ctx.served_model or ctx.deployment_model or "?")
            return None
        return cost_usd(price, usage)

    def _unpriced(self, model: str) -> None:
        self.unpriced[model] += 1
        if self.unpriced[model] == 1:
            log.warning("no price for model %r: its requests are logged without a cost", model)
            self.emit("unpriced_model", model, {"hint": "add it under `pricing:` in the config"})


class Settle:
    name = "settle"

    def __init__(self, pricer: Pricer) -> None:
        self.pricer = pricer

    async def __call__(self, ctx: Context, call_next: Next) -> Reply:
        try:
            reply = await call_next(ctx)
        except BaseException:
            # A reply withheld after the call (an output guard blocked it) was still paid
            # for: the stage that withheld it left its usage on the context.
            if ctx.usage is not None and ctx.cost_usd is None:
                ctx.cost_usd = self.pricer.cost(ctx)
            raise
        if isinstance(reply, ChatStream):
            return ChatStream(self._watch(ctx, reply.chunks))
        ctx.ttft_ms = ctx.elapsed_ms()
        ctx.served_model = reply.model
        if isinstance(reply, ChatResponse):
            ctx.usage = reply.usage
            ctx.system_fingerprint = reply.system_fingerprint
            if any(_refused(c.finish_reason, c.message.refusal) for c in reply.choices):
                _note_refusal(ctx)
        elif isinstance(reply, EmbeddingResponse):
            ctx.usage = Usage(
                prompt_tokens=reply.usage.prompt_tokens, total_tokens=reply.usage.total_tokens
            )
        ctx.cost_usd = self.pricer.cost(ctx)
        return reply

    async def _watch(
        self, ctx: Context, chunks: AsyncIterator[ChatChunk]
    ) -> AsyncIterator[ChatChunk]:
        first = True
        # The text streamed so far, kept only to estimate usage if the stream ends without
        # the provider's figures (a guard stopped it, the client left, the upstream broke).
        parts: list[str] = []
        try:
            async for chunk in chunks:
                if first:
                    ctx.ttft_ms = (time.perf_counter_ns() - ctx.started_ns) / 1e6
                    ctx.served_model = chunk.model
                    ctx.system_fingerprint = chunk.system_fingerprint
                    first = False
                if chunk.usage is not None:
                    ctx.usage = chunk.usage
                for choice in chunk.choices:
                    if choice.delta.content:
                        parts.append(choice.delta.content)
                    if _refused(choice.finish_reason, choice.delta.refusal):
                        _note_refusal(ctx)
                yield chunk
        finally:
            # Also when the stream breaks or the client leaves: what was used is still owed.
            if ctx.usage is None and not first:
                ctx.usage = _estimated_usage(ctx, "".join(parts))
            ctx.cost_usd = self.pricer.cost(ctx)


def _estimated_usage(ctx: Context, text: str) -> Usage:
    """Usage counted by the gateway's tokenizer, for a stream that ended before the provider
    reported its own; the request log notes that it is an estimate."""
    model = ctx.deployment_model or ctx.served_model or ctx.request.model
    prompt = ctx.notes.get("prompt_tokens_estimate")
    if not isinstance(prompt, int) and isinstance(ctx.request, ChatRequest):
        prompt = estimate_prompt_tokens(ctx.request, model)
    prompt = prompt if isinstance(prompt, int) else 0
    completion = count_tokens(text, model) if text else 0
    # Text an output guard held back and never sent when it stopped the stream: generated,
    # so paid for; counted at ~4 characters a token, as it is not at hand.
    unsent = ctx.notes.get(UNSENT_NOTE)
    if isinstance(unsent, int) and unsent > 0:
        completion += -(-unsent // 4)
    ctx.findings.append(
        Finding(
            stage="settle",
            rule="usage_estimated",
            action="note",
            detail="the stream ended before the provider reported usage; counted by proctor",
        )
    )
    return Usage(
        prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
    )


def _refused(finish_reason: str | None, refusal: str | None) -> bool:
    """The model declined: OpenAI's `refusal` text or a `content_filter` stop (Anthropic's
    `refusal` stop reason arrives translated to it)."""
    return bool(refusal) or finish_reason == "content_filter"


def _note_refusal(ctx: Context) -> None:
    """A quality signal, not a guard verdict: recorded as a finding with rule `refusal`.
    A `content_filter` end that an output guard put there (it blocked the reply) is the
    gateway's verdict, already recorded as that guard's finding, not the model's refusal."""
    if any(f.stage == "guard_out" and f.action == "block" for f in ctx.findings):
        return
    if not any(f.rule == "refusal" for f in ctx.findings):
        ctx.findings.append(Finding(stage="settle", rule="refusal", action="flag"))
