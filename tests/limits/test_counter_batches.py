"""`acquire` and `settle`, the batch forms the request path uses, on both backends."""

from __future__ import annotations

import asyncio

import pytest

from proctor.limits.counter import Adjust, Reserve, Take
from tests.limits import test_counters
from tests.limits.test_counters import HOUR, TTL, Backend

# The memory and Redis backends, as the single-operation suite has them.
backend = test_counters.backend


async def test_acquire_applies_everything_and_reports_each_figure(backend: Backend) -> None:
    c = backend.counter
    grant = await c.acquire(
        [Take("rpm", 1.0, 10.0, HOUR), Take("tpm", 300.0, 1000.0, HOUR)],
        [Reserve("day", 0.25, 1.0, TTL), Reserve("month", 0.25, 5.0, TTL)],
    )
    assert grant.allowed
    assert grant.refused == -1
    assert grant.values[0] == pytest.approx(9.0, abs=0.01)
    assert grant.values[1] == pytest.approx(700.0, abs=0.1)
    assert grant.values[2:] == (0.25, 0.25)
    assert await c.spent("day") == 0.25
    assert (await c.take("tpm", 0.0, 1000.0, HOUR)).value == pytest.approx(700.0, abs=0.1)


async def test_a_refused_reservation_takes_no_tokens(backend: Backend) -> None:
    c = backend.counter
    await c.reserve("day", 0.9, 1.0, TTL)
    grant = await c.acquire([Take("rpm", 1.0, 10.0, HOUR)], [Reserve("day", 0.25, 1.0, TTL)])
    assert not grant.allowed
    assert grant.refused == 1  # takes first, then reservations
    assert grant.values[1] == 0.9  # the sum as it stands
    assert await c.spent("day") == 0.9
    assert (await c.take("rpm", 0.0, 10.0, HOUR)).value == pytest.approx(10.0, abs=0.01)


async def test_a_refused_take_reserves_nothing(backend: Backend) -> None:
    c = backend.counter
    grant = await c.acquire(
        [Take("rpm", 1.0, 10.0, HOUR), Take("tpm", 2000.0, 1000.0, HOUR)],
        [Reserve("day", 0.25, 1.0, TTL)],
    )
    assert (grant.allowed, grant.refused) == (False, 1)
    assert grant.values[1] == pytest.approx(1000.0, abs=0.1)
    assert grant.retry_after_s > 0
    assert await c.spent("day") == 0.0
    assert (await c.take("rpm", 0.0, 10.0, HOUR)).value == pytest.approx(10.0, abs=0.01)


async def test_a_key_named_twice_counts_twice(backend: Backend) -> None:
    c = backend.counter
    refused = await c.acquire([], [Reserve("day", 0.6, 1.0, TTL), Reserve("day", 0.6, 1.0, TTL)])
    assert (refused.allowed, refused.refused, refused.values[1]) == (False, 1, 0.6)
    assert await c.spent("day") == 0.0
    granted = await c.acquire([Take("k", 3.0, 5.0, HOUR), Take("k", 2.0, 5.0, HOUR)], [])
    assert granted.allowed
    assert granted.values == pytest.approx((2.0, 0.0), abs=0.01)
    assert not (await c.acquire([Take("k", 1.0, 5.0, HOUR)], [])).allowed


async def test_concurrent_acquires_never_overspend(backend: Backend) -> None:
    c = backend.counter
    grants = await asyncio.gather(
        *(
            c.acquire([Take("rpm", 1.0, 1000.0, HOUR)], [Reserve("hot", 1.0, 50.0, TTL)])
            for _ in range(300)
        )
    )
    assert sum(g.allowed for g in grants) == 50
    assert await c.spent("hot") == 50.0
    # Refused requests took no rate-limit tokens.
    left = (await c.take("rpm", 0.0, 1000.0, HOUR)).value
    assert left == pytest.approx(950.0, abs=0.5)


async def test_settle_adjusts_in_order_and_gives_back(backend: Backend) -> None:
    c = backend.counter
    assert (await c.acquire([Take("tpm", 500.0, 1000.0, HOUR)], [])).allowed
    spent = await c.settle(
        [Adjust("day", 0.5, TTL), Adjust("day", -0.125, TTL), Adjust("other", 2.0, TTL)],
        [Take("tpm", 300.0, 1000.0, HOUR), Take("tpm", 900.0, 1000.0, HOUR)],
    )
    assert spent == [0.5, 0.375, 2.0]
    assert await c.spent("day") == 0.375
    # 500 taken, 300 then 900 given back: capped at the capacity.
    assert (await c.take("tpm", 0.0, 1000.0, HOUR)).value == pytest.approx(1000.0, abs=0.1)
    assert await c.settle([], []) == []
    assert (await c.acquire([], [])).allowed


async def test_memory_acquire_survives_a_sweep_in_the_middle() -> None:
    from proctor.limits.counter import MemoryCounter

    counter = MemoryCounter()
    counter.SWEEP_EVERY = 1  # every operation sweeps: full buckets are dropped mid-call
    for _ in range(3):
        grant = await counter.acquire(
            [Take("a", 1.0, 10.0, HOUR), Take("b", 1.0, 10.0, HOUR)], [Reserve("d", 1.0, 9, TTL)]
        )
        assert grant.allowed
    assert (await counter.take("a", 0.0, 10.0, HOUR)).value == pytest.approx(7.0, abs=0.01)
    assert await counter.spent("d") == 3.0
