"""Stage 7, call: ask the providers through the resilience executor; degrade if all fail."""

from __future__ import annotations

import time

from proctor.context import Context, Reply
from proctor.errors import ProctorError, ServiceUnavailable
from proctor.pipeline import Next
from proctor.resilience.degrade import static_reply
from proctor.resilience.executor import Executor
from proctor.resilience.steps import Step
from proctor.wire.types import ChatRequest


class Call:
    name = "call"

    def __init__(self, executor: Executor) -> None:
        self.executor = executor

    async def __call__(self, ctx: Context, call_next: Next) -> Reply:
        steps: list[Step] = ctx.notes["candidates"]
        try:
            return await self.executor.run(ctx, steps)
        except ProctorError as exc:
            degrade = steps[0].model.degrade
            if degrade is None or (exc.status < 500 and exc.status != 429):
                raise
            ctx.response_headers["x-proctor-degraded"] = "true"
            request = ctx.request
            if degrade.message is None or not isinstance(request, ChatRequest):
                raise ServiceUnavailable(
                    f"'{ctx.public_model}' is unavailable: every deployment and fallback "
                    f"failed (last error: {exc.message})",
                    code="all_deployments_failed",
                    headers={"retry-after": str(degrade.retry_after_s)},
                ) from exc
            ctx.deployment = ctx.provider = "proctor"
            reply = static_reply(request, ctx.public_model, degrade.message, int(time.time()))
            return reply
