"""One suite for every Counter backend: the memory one and the Redis one must agree.

Time: the memory backend gets a fake clock that moves only when the test advances it; the
Redis backend uses the server clock, so `advance` really sleeps, and every assertion that
depends on time is a range wide enough for a slow CI machine. Tests that must not see any
refill use an hour-long period, so the few milliseconds between calls add ~nothing.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest

from proctor.limits.counter import Counter, MemoryCounter
from proctor.limits.redis import RedisCounter
from tests.limits import workers

HOUR = 3600.0
TTL = 60.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Backend:
    name: str
    counter: Counter
    # Let `seconds` pass: the fake clock moves, or the test sleeps in real time.
    advance: Callable[[float], Awaitable[None]]


@pytest.fixture(params=["memory", "redis"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    if request.param == "memory":
        clock = FakeClock()
        yield Backend("memory", MemoryCounter(clock), clock.advance)
        return
    url, prefix = request.getfixturevalue("redis_service")
    counter = RedisCounter(url, prefix)
    try:
        yield Backend("redis", counter, asyncio.sleep)
    finally:
        await counter.close()


# Budgets


async def test_reserve_within_and_over_limit(backend: Backend) -> None:
    c = backend.counter
    assert await c.spent("b") == 0.0
    first = await c.reserve("b", 3.0, 10.0, TTL)
    assert (first.allowed, first.value) == (True, 3.0)
    over = await c.reserve("b", 8.0, 10.0, TTL)
    assert (over.allowed, over.value) == (False, 3.0)  # refused: the sum as it stands
    assert await c.spent("b") == 3.0  # a refusal changes nothing


async def test_boundary_is_exact(backend: Backend) -> None:
    c = backend.counter
    for expected in (0.25, 0.5, 0.75, 1.0):
        decision = await c.reserve("b", 0.25, 1.0, TTL)
        assert (decision.allowed, decision.value) == (True, expected)  # landing on it is fine
    refused = await c.reserve("b", 0.25, 1.0, TTL)
    assert (refused.allowed, refused.value) == (False, 1.0)
    assert (await c.reserve("b", 0.0, 1.0, TTL)).allowed  # nothing more still fits
    assert not (await c.reserve("other", 1.5, 1.0, TTL)).allowed  # more than the limit
    assert await c.spent("other") == 0.0


async def test_decimal_amounts_are_exact(backend: Backend) -> None:
    # Both backends keep whole micro-units: 0.1 + 0.2 fits a limit of 0.3 exactly.
    c = backend.counter
    assert (await c.reserve("usd", 0.1, 0.3, TTL)).allowed
    decision = await c.reserve("usd", 0.2, 0.3, TTL)
    assert (decision.allowed, decision.value) == (True, 0.3)
    for _ in range(7):
        await c.reserve("tenths", 0.1, 1.0, TTL)
    assert await c.spent("tenths") == 0.7  # not 0.7999999999999999 - 0.1


async def test_adjust_settles_both_ways(backend: Backend) -> None:
    c = backend.counter
    await c.reserve("b", 5.0, 10.0, TTL)
    assert await c.adjust("b", 2.5, TTL) == 7.5  # the call cost more than reserved
    assert await c.adjust("b", -4.0, TTL) == 3.5  # ... or less
    assert await c.spent("b") == 3.5
    assert (await c.reserve("b", 6.5, 10.0, TTL)).allowed  # the refund is spendable again
    assert await c.adjust("b", 5.0, TTL) == 15.0  # never refused, even past the limit
    assert not (await c.reserve("b", 0.01, 10.0, TTL)).allowed
    assert await c.adjust("fresh", -1.0, TTL) == -1.0  # a missing key starts at zero


async def test_budget_expires_after_ttl(backend: Backend) -> None:
    c = backend.counter
    await c.reserve("short", 4.0, 10.0, 0.3)
    await c.reserve("kept", 4.0, 10.0, 0.3)
    await backend.advance(0.15)
    await c.adjust("kept", 1.0, 2.0)  # each write restarts the TTL
    await backend.advance(0.45)
    assert await c.spent("short") == 0.0
    assert await c.spent("kept") == 5.0
    again = await c.reserve("short", 10.0, 10.0, TTL)  # the whole limit is available again
    assert (again.allowed, again.value) == (True, 10.0)


async def test_concurrent_reservations_never_overspend(backend: Backend) -> None:
    c = backend.counter
    decisions = await asyncio.gather(*(c.reserve("hot", 1.0, 50.0, TTL) for _ in range(500)))
    assert sum(d.allowed for d in decisions) == 50
    assert await c.spent("hot") == 50.0
    assert sorted(d.value for d in decisions if d.allowed) == [float(i) for i in range(1, 51)]


# Buckets


async def test_take_until_empty(backend: Backend) -> None:
    c = backend.counter
    for left in (4.0, 3.0, 2.0, 1.0, 0.0):
        decision = await c.take("k", 1.0, 5.0, HOUR)
        assert decision.allowed
        assert decision.value == pytest.approx(left, abs=0.01)
    refused = await c.take("k", 1.0, 5.0, HOUR)
    assert not refused.allowed
    assert refused.value == pytest.approx(0.0, abs=0.01)
    # One token at 5 per hour: 720 s, less whatever trickled in since.
    assert 700.0 < refused.retry_after_s <= 720.0


async def test_retry_after_and_refill(backend: Backend) -> None:
    c = backend.counter
    capacity, period = 10.0, 0.5  # 20 tokens/s
    assert (await c.take("k", capacity, capacity, period)).allowed
    refused = await c.take("k", 5.0, capacity, period)
    assert not refused.allowed
    assert 0.15 < refused.retry_after_s <= 0.25  # 5 tokens at 20/s, less the trickle
    await backend.advance(refused.retry_after_s + 0.05)
    assert (await c.take("k", 5.0, capacity, period)).allowed  # waiting that long suffices
    await backend.advance(2 * period)
    full = await c.take("k", capacity + 0.5, capacity, period)
    assert not full.allowed
    assert full.value == pytest.approx(capacity)  # refill stops at the capacity
    assert full.value <= capacity
    assert (await c.take("k", capacity, capacity, period)).allowed


async def test_give_back_is_capped_at_capacity(backend: Backend) -> None:
    c = backend.counter
    assert (await c.take("k", 3.0, 10.0, HOUR)).allowed
    await c.give("k", 5.0, 10.0, HOUR)  # estimated 3, used -2: more back than taken
    assert (await c.take("k", 0.0, 10.0, HOUR)).value == 10.0
    await c.give("fresh", 1.0, 10.0, HOUR)
    assert (await c.take("fresh", 0.0, 10.0, HOUR)).value == 10.0


async def test_give_negative_drives_below_zero(backend: Backend) -> None:
    c = backend.counter
    assert (await c.take("k", 2.0, 10.0, HOUR)).allowed
    await c.give("k", -15.0, 10.0, HOUR)  # the call used 15 more tokens than estimated
    refused = await c.take("k", 1.0, 10.0, HOUR)
    assert not refused.allowed
    assert refused.value == pytest.approx(-7.0, abs=0.01)
    # 8 tokens to go at 10 per hour: the overdraft delays the next request.
    assert 2870.0 < refused.retry_after_s <= 2880.0


async def test_concurrent_takes_never_overdraw(backend: Backend) -> None:
    c = backend.counter
    decisions = await asyncio.gather(*(c.take("hot", 1.0, 50.0, HOUR) for _ in range(300)))
    assert sum(d.allowed for d in decisions) == 50


async def test_budgets_and_buckets_do_not_share_keys(backend: Backend) -> None:
    c = backend.counter
    await c.reserve("same", 3.0, 10.0, TTL)
    assert (await c.take("same", 1.0, 5.0, HOUR)).allowed
    assert await c.spent("same") == 3.0


# Across processes: the property that only a shared backend can have.


def _reserve_in_processes(url: str, prefix: str, processes: int, attempts: int) -> list[int]:
    # spawn, not fork: forking a process that runs an event loop (pytest-asyncio's) and
    # threads is unsafe, and each child must build its own loop and client anyway.
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(processes)
    results: multiprocessing.Queue[int] = ctx.Queue()
    children = [
        ctx.Process(
            target=workers.reserve_in_process,
            args=(url, prefix, "shared", attempts, 50.0, barrier, results),
        )
        for _ in range(processes)
    ]
    for child in children:
        child.start()
    try:
        # Read before joining: a child cannot exit while its result is still unflushed.
        return [results.get(timeout=90) for _ in children]
    finally:
        for child in children:
            child.join(timeout=10)
            if child.is_alive():
                child.kill()
                child.join()


async def test_reserve_is_exact_across_processes(redis_service: tuple[str, str]) -> None:
    url, prefix = redis_service
    allowed = await asyncio.to_thread(_reserve_in_processes, url, prefix, 3, 200)
    assert len(allowed) == 3
    assert sum(allowed) == 50, allowed
    counter = RedisCounter(url, prefix)
    try:
        assert await counter.spent("shared") == 50.0
    finally:
        await counter.close()


async def test_memory_counter_sweeps_idle_entries() -> None:
    from proctor.limits.counter import MemoryCounter

    now = [0.0]
    counter = MemoryCounter(clock=lambda: now[0])
    for i in range(100):
        await counter.reserve(f"sum{i}", 1.0, 10.0, ttl_s=5)
        await counter.take(f"bucket{i}", 1.0, capacity=10, period_s=60)
    await counter.take("busy", 10.0, capacity=10, period_s=60)  # empty: not full again for 60 s
    now[0] = 10.0  # sums expired; the idle buckets refilled in 6 s
    counter.sweep()
    assert counter._sums == {}
    assert set(counter._buckets) == {"busy"}
