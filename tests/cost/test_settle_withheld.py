"""What a request used is priced even when its reply never reaches the caller: an output
guard withheld it after the call, or the stream ended before the provider reported usage."""

from __future__ import annotations

from typing import Any

import pytest

from proctor.config import PriceConfig
from proctor.context import ChatStream, Context
from proctor.cost.pricing import PriceTable
from proctor.errors import BadRequest
from proctor.stages.settle import Pricer, Settle
from proctor.wire.types import ChatChunk, ChatRequest, ChunkChoice, Delta, Message, Usage

PRICE = {"m": PriceConfig(input=1.0, output=2.0)}


def _settle() -> Settle:
    return Settle(Pricer(PriceTable.load(PRICE), frozenset(), lambda *_: None))


def _ctx() -> Context:
    message = Message(role="user", content="What is the capital of France?")
    ctx = Context(request=ChatRequest(model="m", messages=[message]))
    ctx.provider, ctx.deployment_model = "p", "m"  # what the call stage records
    return ctx


async def test_a_reply_withheld_after_the_call_is_still_priced() -> None:
    async def withheld(ctx: Context) -> Any:
        ctx.usage, ctx.served_model = Usage(100, 50, 150), "m"
        raise BadRequest("blocked by an output guard", code="content_policy_violation")

    ctx = _ctx()
    with pytest.raises(BadRequest):
        await _settle()(ctx, withheld)
    assert ctx.cost_usd == pytest.approx((100 * 1.0 + 50 * 2.0) / 1e6)


async def test_a_failure_before_any_usage_costs_nothing() -> None:
    async def failed(_: Context) -> Any:
        raise BadRequest("no")

    ctx = _ctx()
    with pytest.raises(BadRequest):
        await _settle()(ctx, failed)
    assert ctx.cost_usd is None


async def test_a_stream_cut_before_its_usage_is_estimated_and_priced() -> None:
    async def chunks() -> Any:
        for text in ("Paris is the capital", " of France, and"):
            yield ChatChunk(
                id="c", created=0, model="m", choices=[ChunkChoice(0, Delta(content=text))]
            )

    async def stream(_: Context) -> Any:
        return ChatStream(chunks())

    ctx = _ctx()
    reply = await _settle()(ctx, stream)
    assert isinstance(reply, ChatStream)
    assert len([c async for c in reply]) == 2
    assert ctx.usage is not None
    assert ctx.usage.prompt_tokens > 5
    assert 5 <= ctx.usage.completion_tokens <= 12
    assert ctx.cost_usd is not None
    assert ctx.cost_usd > 0
    assert [f.rule for f in ctx.findings] == ["usage_estimated"]


async def test_a_stream_with_reported_usage_is_not_estimated() -> None:
    async def chunks() -> Any:
        yield ChatChunk(id="c", created=0, model="m", choices=[ChunkChoice(0, Delta(content="hi"))])
        yield ChatChunk(id="c", created=0, model="m", choices=[], usage=Usage(7, 1, 8))

    async def stream(_: Context) -> Any:
        return ChatStream(chunks())

    ctx = _ctx()
    reply = await _settle()(ctx, stream)
    assert isinstance(reply, ChatStream)
    assert len([c async for c in reply]) == 2
    assert ctx.usage == Usage(7, 1, 8)
    assert ctx.findings == []
