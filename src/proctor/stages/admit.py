"""Stage 2, admit: backpressure. Requests beyond the in-flight limit are shed with a 503."""

from __future__ import annotations

from proctor.context import Context, Reply
from proctor.errors import ServiceUnavailable
from proctor.pipeline import Next


class Admit:
    """Counts requests in flight (a stream counts until its last chunk) and sheds the excess.

    Shedding early with Retry-After keeps latency bounded for the requests that are admitted,
    instead of letting every request slow down together when the process is overloaded.
    """

    name = "admit"

    def __init__(self, max_inflight: int) -> None:
        self.max_inflight = max_inflight
        self.inflight = 0

    async def __call__(self, ctx: Context, call_next: Next) -> Reply:
        if self.inflight >= self.max_inflight:
            raise ServiceUnavailable(
                f"the gateway is at its limit of {self.max_inflight} requests in flight",
                code="overloaded",
                headers={"retry-after": "1"},
            )
        self.inflight += 1
        ctx.on_finish.append(self._release)
        return await call_next(ctx)

    def _release(self) -> None:
        self.inflight -= 1
