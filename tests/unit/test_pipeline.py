from __future__ import annotations

import pytest

from proctor import pipeline
from proctor.context import Context, Reply
from proctor.errors import BadRequest
from proctor.pipeline import Next
from proctor.wire.types import AssistantMessage, ChatRequest, ChatResponse, Choice, Message


def _ctx() -> Context:
    return Context(request=ChatRequest(model="m", messages=[Message(role="user", content="x")]))


def _response(text: str) -> ChatResponse:
    return ChatResponse(
        id="1", created=0, model="m", choices=[Choice(0, AssistantMessage(content=text))]
    )


class Recorder:
    def __init__(self, name: str, log: list[str]) -> None:
        self.name = name
        self.log = log

    async def __call__(self, ctx: Context, call_next: Next) -> Reply:
        self.log.append(f"{self.name}:before")
        reply = await call_next(ctx)
        self.log.append(f"{self.name}:after")
        return reply


class Terminal:
    name = "call"

    async def __call__(self, ctx: Context, call_next: Next) -> Reply:
        return _response("done")


class ShortCircuit:
    name = "cache"

    async def __call__(self, ctx: Context, call_next: Next) -> Reply:
        return _response("cached")


async def test_fold_runs_stages_as_an_onion() -> None:
    log: list[str] = []
    handle = pipeline.build([Recorder("a", log), Recorder("b", log), Terminal()])
    ctx = _ctx()
    reply = await handle(ctx)
    assert isinstance(reply, ChatResponse)
    assert log == ["a:before", "b:before", "b:after", "a:after"]
    assert list(ctx.stage_ns) == ["a", "b", "call"]
    timings = ctx.stage_timings_ms()
    assert all(value >= 0 for value in timings.values())


async def test_a_stage_may_answer_instead_of_calling_next() -> None:
    log: list[str] = []
    handle = pipeline.build([Recorder("a", log), ShortCircuit(), Terminal()])
    ctx = _ctx()
    reply = await handle(ctx)
    assert isinstance(reply, ChatResponse)
    assert reply.choices[0].message.content == "cached"
    assert "call" not in ctx.stage_ns


async def test_errors_propagate_through_the_fold_with_timings() -> None:
    class Refuse:
        name = "guard_in"

        async def __call__(self, ctx: Context, call_next: Next) -> Reply:
            raise BadRequest("blocked")

    ctx = _ctx()
    with pytest.raises(BadRequest):
        await pipeline.build([Recorder("a", []), Refuse(), Terminal()])(ctx)
    assert list(ctx.stage_ns) == ["a", "guard_in"]


async def test_a_pipeline_without_a_terminal_stage_fails_loudly() -> None:
    with pytest.raises(RuntimeError, match="without a stage producing a reply"):
        await pipeline.build([Recorder("a", [])])(_ctx())
