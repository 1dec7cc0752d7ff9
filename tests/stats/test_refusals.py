"""Refusals are a quality signal: detected in settle, counted apart from guard events in the
stats, and watched by the `refusal_rate` alert rule."""

from __future__ import annotations

from typing import Any

from proctor.alerts.rules import metric_value
from proctor.alerts.series import Bucket, Sample
from proctor.context import ChatStream, Context, Finding
from proctor.cost.pricing import PriceTable
from proctor.stages.settle import Pricer, Settle
from proctor.stats.report import _Samples
from proctor.wire.types import (
    AssistantMessage,
    ChatChunk,
    ChatRequest,
    ChatResponse,
    Choice,
    ChunkChoice,
    Delta,
    Message,
)


def _settle() -> Settle:
    return Settle(Pricer(PriceTable.load(), frozenset(), lambda *_: None))


def _ctx() -> Context:
    return Context(request=ChatRequest(model="m", messages=[Message(role="user", content="x")]))


async def test_a_content_filter_stop_is_noted_as_a_refusal() -> None:
    async def refused(_: Context) -> Any:
        message = AssistantMessage(content=None)
        return ChatResponse(
            id="1", created=0, model="m", choices=[Choice(0, message, "content_filter")]
        )

    ctx = _ctx()
    await _settle()(ctx, refused)
    assert [(f.rule, f.action) for f in ctx.findings] == [("refusal", "flag")]

    async def answered(_: Context) -> Any:
        message = AssistantMessage(content="sure")
        return ChatResponse(id="1", created=0, model="m", choices=[Choice(0, message, "stop")])

    ctx = _ctx()
    await _settle()(ctx, answered)
    assert ctx.findings == []


async def test_a_streamed_refusal_is_noted_once() -> None:
    async def chunks() -> Any:
        for text in ("I can't", " help with that"):
            yield ChatChunk(
                id="c", created=0, model="m", choices=[ChunkChoice(0, Delta(refusal=text))]
            )

    async def stream(_: Context) -> Any:
        return ChatStream(chunks())

    ctx = _ctx()
    reply = await _settle()(ctx, stream)
    assert isinstance(reply, ChatStream)
    assert len([c async for c in reply]) == 2
    # The stream carried no usage: the gateway counted it, and says so.
    assert [f.rule for f in ctx.findings] == ["refusal", "usage_estimated"]


async def test_a_guard_block_is_not_the_models_refusal() -> None:
    async def blocked(ctx: Context) -> Any:
        ctx.findings.append(Finding("guard_out", "toxicity", "block", kind="toxicity"))
        message = AssistantMessage(content="I can't help with that.")
        return ChatResponse(
            id="1", created=0, model="m", choices=[Choice(0, message, "content_filter")]
        )

    ctx = _ctx()
    await _settle()(ctx, blocked)
    assert [f.rule for f in ctx.findings] == ["toxicity"]


def test_stats_count_refusals_apart_from_guard_events() -> None:
    samples = _Samples(3600)
    refusal = '[{"stage":"settle","rule":"refusal","action":"flag"}]'
    block = '[{"stage":"guard_in","rule":"injection","action":"block"}]'
    samples.add_findings(
        [
            {"started_at": 10.0, "grp": None, "findings": refusal},
            {"started_at": 20.0, "grp": None, "findings": block},
            {"started_at": 30.0, "grp": None, "findings": "[]"},
        ]
    )
    measures = samples.total.measures()
    assert (measures["refusals"], measures["guard_events"], measures["guard_blocks"]) == (1, 1, 1)


def test_refusal_rate_metric() -> None:
    bucket = Bucket()
    for refused in (True, False, False, False):
        bucket.requests += 1
        bucket.refused += Sample(False, 1.0, 0.0, False, False, refused).refused
    assert metric_value("refusal_rate", bucket) == 0.25
