"""What each OS process of the cross-process test runs: its own event loop, its own client.

A module of its own (not the test module) so that the spawned children import only this."""

from __future__ import annotations

import asyncio
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier

from proctor.limits.redis import RedisCounter

BARRIER_TIMEOUT_S = 60.0


async def _reserve_many(
    url: str, prefix: str, key: str, attempts: int, limit: float, barrier: Barrier
) -> int:
    counter = RedisCounter(url, prefix)
    try:
        await counter.spent(key)  # connect (and load nothing) before the race starts
        # Start together so the processes really contend rather than run one after another.
        await asyncio.to_thread(barrier.wait, BARRIER_TIMEOUT_S)
        decisions = await asyncio.gather(
            *(counter.reserve(key, 1.0, limit, 60.0) for _ in range(attempts))
        )
        return sum(decision.allowed for decision in decisions)
    finally:
        await counter.close()


def reserve_in_process(
    url: str,
    prefix: str,
    key: str,
    attempts: int,
    limit: float,
    barrier: Barrier,
    results: Queue[int],
) -> None:
    results.put(asyncio.run(_reserve_many(url, prefix, key, attempts, limit, barrier)))
