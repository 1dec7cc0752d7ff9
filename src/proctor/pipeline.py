"""The pipeline: a fold of stages, each `async (ctx, call_next) -> Reply`, like ASGI middleware.

A stage may act before calling `call_next` (admission, guards on input, routing), after it
(settling cost, guards on output), around it (timing, caching), or instead of it (a cache
hit, a blocked request). The fold is built once per configuration, not per request.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from proctor.context import Context, Reply

Next = Callable[[Context], Awaitable[Reply]]


class Stage(Protocol):
    name: str

    async def __call__(self, ctx: Context, call_next: Next) -> Reply: ...


def _timed(stage: Stage, call_next: Next) -> Next:
    name = stage.name
    clock = time.perf_counter_ns

    async def run(ctx: Context) -> Reply:
        # Registered on entry so that the order of `stage_ns` is the pipeline's order.
        ctx.stage_ns[name] = 0
        start = clock()
        ctx.stage_start_ns[name] = start - ctx.started_ns
        try:
            return await stage(ctx, call_next)
        finally:
            ctx.stage_ns[name] = clock() - start

    return run


async def _end(ctx: Context) -> Reply:
    raise RuntimeError("the pipeline ended without a stage producing a reply")


def build(stages: Sequence[Stage]) -> Next:
    """Fold the stages into one callable; the first stage is the outermost."""
    call: Next = _end
    for stage in reversed(stages):
        call = _timed(stage, call)
    return call
