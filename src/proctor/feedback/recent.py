"""Requests this gateway finished lately, so they can be rated before their row is written.

A finished request reaches the store through the batched writer, ~100 ms later. Feedback
sent at once (a thumbs-up on a fast answer) must not get a 404 meanwhile, so a writer
observer (off the request path) remembers request id -> key id for the most recent
`capacity` requests, and `wait_for` can wait until the writer has drained what was buffered.
Requests refused at authentication (401) are not remembered: they are not rateable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import islice

from proctor.context import Context

# A request refused for want of a valid key cannot be rated: its token would otherwise let
# anyone who can reach the gateway write feedback rows.
UNAUTHENTICATED = 401


@dataclass(frozen=True, slots=True)
class Seen:
    """A request that exists; `key_id` is the virtual key that made it (None: no key).
    Its model and feature go with the rating to the alert series."""

    key_id: str | None
    model: str | None = None
    feature: str | None = None


class RecentRequests:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._owners: dict[str, Seen] = {}  # insertion order: oldest first
        self._drained = asyncio.Event()

    def __len__(self) -> int:
        return len(self._owners)

    def observe(self, contexts: Sequence[Context]) -> None:
        """A writer observer: runs in the writer's task when it takes a batch."""
        owners = self._owners
        for ctx in contexts:
            if ctx.status != UNAUTHENTICATED:
                owners[ctx.request_id] = Seen(ctx.tags.key_id, ctx.public_model, ctx.tags.feature)
        excess = len(owners) - self.capacity
        if excess > 0:
            for request_id in list(islice(owners, excess)):
                del owners[request_id]
        # Wake whoever waits for a batch, and give later waiters a fresh event.
        drained, self._drained = self._drained, asyncio.Event()
        drained.set()

    def lookup(self, request_id: str) -> Seen | None:
        if request_id in self._owners:
            return self._owners[request_id]
        return None

    async def wait_for(
        self, request_id: str, buffered: Callable[[], int], timeout_s: float
    ) -> Seen | None:
        """Wait for the request to pass through the writer, while the writer holds anything.

        The writer observes a batch in the same step that takes it from its buffer, so once
        the buffer is empty every request submitted before has been observed: an id still
        unknown then was never finished here, and the answer is None at once.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            seen = self.lookup(request_id)
            remaining = deadline - loop.time()
            if seen is not None or buffered() == 0 or remaining <= 0:
                return seen
            try:
                await asyncio.wait_for(self._drained.wait(), remaining)
            except TimeoutError:
                return self.lookup(request_id)
