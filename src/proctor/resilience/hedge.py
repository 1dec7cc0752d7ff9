"""Request hedging: if the first deployment is slow, race a second one; first answer wins.

Cuts tail latency for latency-critical models at the price of a duplicate call in the slow
cases only (those beyond `after_ms`). The loser is cancelled; a losing stream is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from proctor.context import ChatStream, Context, Reply
from proctor.resilience.steps import Skipped, Step

if TYPE_CHECKING:
    from proctor.resilience.executor import Executor


async def race(
    executor: Executor, ctx: Context, first: Step, second: Step, after_ms: float, deadline: float
) -> Reply:
    primary = asyncio.create_task(executor.try_step(ctx, first, deadline))
    done, _ = await asyncio.wait({primary}, timeout=after_ms / 1000)
    if done:
        try:
            return primary.result()
        except (Skipped, Exception):
            # The first failed before the hedge was due: the second is an ordinary fallback.
            return await executor.try_step(ctx, second, deadline)
    ctx.notes["hedged"] = True
    backup = asyncio.create_task(executor.try_step(ctx, second, deadline))
    steps = {primary: first, backup: second}
    pending: set[asyncio.Task[Reply]] = {primary, backup}
    error: BaseException | None = None
    while pending:
        done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        winners = [task for task in done if task.exception() is None]
        if winners:
            winner = winners[0]
            for task in pending:
                task.cancel()
            for task in [*pending, *winners[1:]]:
                await _discard(task)
            deployment = steps[winner].deployment
            ctx.deployment, ctx.provider = deployment.name, deployment.provider
            ctx.deployment_model = deployment.model
            ctx.notes["hedge_winner"] = deployment.name
            return winner.result()
        error = next(task.exception() for task in done)
    assert error is not None
    raise error


async def _discard(task: asyncio.Task[Reply]) -> None:
    """Wait for a losing task to finish cancelling; close its stream if it got one."""
    with contextlib.suppress(BaseException):
        reply = await task
        if isinstance(reply, ChatStream):
            aclose = getattr(reply.chunks, "aclose", None)
            if aclose is not None:
                await aclose()
