"""The Counter interface: atomic budget reservations and token buckets.

Two kinds of state, both keyed by a string the caller builds (scope, subject, period):

- a **budget**: a running sum that may not pass a limit. `reserve` adds an amount only if
  the sum stays within the limit (atomically: concurrent reservations can never overspend);
  `adjust` settles a reservation to the real amount afterwards (a delta, may be negative,
  never refused). A budget key expires `ttl_s` after its period ends.
- a **bucket**: a token bucket for rate limits, holding up to `capacity` tokens and refilled
  continuously at `capacity / period_s` per second. `take` removes tokens if enough are
  there; `give` settles an estimate against the real count (returns tokens, or takes more,
  which may drive the bucket below zero so the excess delays the next requests).

The request path uses the batch forms: `acquire` takes every bucket and reserves every budget
a request needs, all or nothing, and `settle` applies any number of adjustments and give-backs
(those of many finished requests at once). The memory backend serves one process; the Redis
backend (Lua scripts, one round trip per call) is shared by every replica. Both pass the same
test suite.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol


class CounterUnavailable(Exception):
    """The counter backend could not be reached or would not accept the write (Redis down,
    timed out, pool exhausted, read-only replica after a failover). Whether to admit requests
    anyway is the caller's policy. An operation that timed out may or may not have been
    applied; it is never retried, so it is never applied twice."""


# Budget sums are kept in whole micro-units (1e-6 USD) by every backend, so that decimal
# amounts add up exactly (0.1 + 0.2 fits a limit of 0.3) and both backends agree.
SCALE = 1_000_000


def to_units(amount: float) -> int:
    return round(amount * SCALE)


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    # Budget: the sum after this operation (or as it stands, when refused).
    # Bucket: the tokens left after this operation (or as they stand, when refused).
    value: float
    # Bucket: seconds until `amount` tokens will be there when refused; else 0.
    retry_after_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Take:
    """Take `amount` tokens from a bucket (or, in `settle`, give them back: a give)."""

    key: str
    amount: float
    capacity: float
    period_s: float


@dataclass(frozen=True, slots=True)
class Reserve:
    """Add `amount` to a budget sum if it stays within `limit`."""

    key: str
    amount: float
    limit: float
    ttl_s: float


@dataclass(frozen=True, slots=True)
class Adjust:
    """Add `delta` (may be negative) to a budget sum, never refused."""

    key: str
    delta: float
    ttl_s: float


@dataclass(frozen=True, slots=True)
class Grant:
    """The outcome of `acquire`: every operation applied, or none.

    `values` has one entry per operation, takes first: the tokens left in the bucket or the
    budget's sum after the operation. When refused, `refused` is the index of the first
    operation that could not be applied, and its entry holds the tokens or the sum as they
    stand (what it would have been applied to); the others are meaningless.
    """

    refused: int  # -1 when everything was applied
    values: tuple[float, ...]
    retry_after_s: float = 0.0  # a refused take: seconds until its tokens are there

    @property
    def allowed(self) -> bool:
        return self.refused < 0


class Counter(Protocol):
    async def acquire(self, takes: Sequence[Take], reserves: Sequence[Reserve]) -> Grant: ...

    async def settle(self, adjusts: Sequence[Adjust], gives: Sequence[Take]) -> list[float]:
        """Apply adjustments and give-backs in order; the sum after each adjustment."""
        ...

    async def reserve(self, key: str, amount: float, limit: float, ttl_s: float) -> Decision: ...

    async def adjust(self, key: str, delta: float, ttl_s: float) -> float: ...

    async def spent(self, key: str) -> float: ...

    async def take(self, key: str, amount: float, capacity: float, period_s: float) -> Decision: ...

    async def give(self, key: str, amount: float, capacity: float, period_s: float) -> None: ...

    async def close(self) -> None: ...


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float
    capacity: float
    period_s: float

    def full_by(self, now: float) -> bool:
        missing = self.capacity - self.tokens
        return now - self.updated >= missing * self.period_s / self.capacity


class MemoryCounter:
    """Single-process counters. Every method runs without awaiting, so each is atomic
    with respect to the other coroutines of the event loop.

    Keys are per subject (every user has a bucket), so entries that carry no information any
    more (an expired sum, a bucket idle long enough to be full again) are swept now and then
    to keep memory bounded by the active subjects.
    """

    SWEEP_EVERY = 10_000  # operations between sweeps

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._sums: dict[str, tuple[int, float]] = {}  # key -> (micro-units, expires at)
        self._buckets: dict[str, _Bucket] = {}
        self._operations = 0

    def _tick(self) -> None:
        self._operations += 1
        if self._operations % self.SWEEP_EVERY == 0:
            self.sweep()

    def _sum(self, key: str) -> int:
        self._tick()
        entry = self._sums.get(key)
        if entry is None:
            return 0
        value, expires = entry
        if expires <= self._clock():
            del self._sums[key]
            return 0
        return value

    def sweep(self) -> None:
        now = self._clock()
        self._sums = {k: v for k, v in self._sums.items() if v[1] > now}
        self._buckets = {k: b for k, b in self._buckets.items() if not b.full_by(now)}

    async def reserve(self, key: str, amount: float, limit: float, ttl_s: float) -> Decision:
        current = self._sum(key)
        after = current + to_units(amount)
        if after > to_units(limit):
            return Decision(False, current / SCALE)
        self._sums[key] = (after, self._clock() + ttl_s)
        return Decision(True, after / SCALE)

    async def adjust(self, key: str, delta: float, ttl_s: float) -> float:
        value = self._sum(key) + to_units(delta)
        self._sums[key] = (value, self._clock() + ttl_s)
        return value / SCALE

    async def spent(self, key: str) -> float:
        return self._sum(key) / SCALE

    def _refill(self, key: str, capacity: float, period_s: float) -> _Bucket:
        self._tick()
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(capacity, now, capacity, period_s)
        else:
            rate = capacity / period_s
            bucket.tokens = min(capacity, bucket.tokens + (now - bucket.updated) * rate)
            bucket.capacity, bucket.period_s = capacity, period_s
            bucket.updated = now
        return bucket

    async def take(self, key: str, amount: float, capacity: float, period_s: float) -> Decision:
        bucket = self._refill(key, capacity, period_s)
        if bucket.tokens < amount:
            missing = amount - bucket.tokens
            return Decision(False, bucket.tokens, missing * period_s / capacity)
        bucket.tokens -= amount
        return Decision(True, bucket.tokens)

    async def give(self, key: str, amount: float, capacity: float, period_s: float) -> None:
        bucket = self._refill(key, capacity, period_s)
        bucket.tokens = min(capacity, bucket.tokens + amount)

    async def acquire(self, takes: Sequence[Take], reserves: Sequence[Reserve]) -> Grant:
        # Checked against running figures first (a key may appear twice), applied only if
        # all of them fit; nothing awaits in between, so it is atomic for the event loop.
        values: list[float] = []
        tokens: dict[str, float] = {}
        buckets: dict[str, _Bucket] = {}
        for i, take in enumerate(takes):
            have = tokens.get(take.key)
            if have is None:
                bucket = buckets[take.key] = self._refill(take.key, take.capacity, take.period_s)
                have = bucket.tokens
            if have < take.amount:
                wait = (take.amount - have) * take.period_s / take.capacity
                return Grant(i, (*values, have), wait)
            tokens[take.key] = have - take.amount
            values.append(have - take.amount)
        sums: dict[str, int] = {}
        for j, reserve in enumerate(reserves):
            current = sums.get(reserve.key)
            if current is None:
                current = self._sum(reserve.key)
            after = current + to_units(reserve.amount)
            if after > to_units(reserve.limit):
                return Grant(len(takes) + j, (*values, current / SCALE))
            sums[reserve.key] = after
            values.append(after / SCALE)
        for key, left in tokens.items():
            # Set through the dict too: a sweep during this call may have dropped a bucket
            # that was full (and so carried no information until now).
            bucket = self._buckets[key] = buckets[key]
            bucket.tokens = left
        now = self._clock()
        for reserve in reserves:
            self._sums[reserve.key] = (sums[reserve.key], now + reserve.ttl_s)
        return Grant(-1, tuple(values))

    async def settle(self, adjusts: Sequence[Adjust], gives: Sequence[Take]) -> list[float]:
        spent = []
        for adjust in adjusts:
            value = self._sum(adjust.key) + to_units(adjust.delta)
            self._sums[adjust.key] = (value, self._clock() + adjust.ttl_s)
            spent.append(value / SCALE)
        for give in gives:
            bucket = self._refill(give.key, give.capacity, give.period_s)
            bucket.tokens = min(give.capacity, bucket.tokens + give.amount)
        return spent

    async def close(self) -> None:
        return None
