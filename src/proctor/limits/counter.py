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

The memory backend serves one process; the Redis backend (Lua scripts, one round trip per
operation) is shared by every replica. Both pass the same test suite.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    # Budget: the sum after this operation (or as it stands, when refused).
    # Bucket: the tokens left after this operation (or as they stand, when refused).
    value: float
    # Bucket: seconds until `amount` tokens will be there when refused; else 0.
    retry_after_s: float = 0.0


class Counter(Protocol):
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


class MemoryCounter:
    """Single-process counters. Every method runs without awaiting, so each is atomic
    with respect to the other coroutines of the event loop."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._sums: dict[str, tuple[float, float]] = {}  # key -> (sum, expires at)
        self._buckets: dict[str, _Bucket] = {}

    def _sum(self, key: str) -> float:
        entry = self._sums.get(key)
        if entry is None:
            return 0.0
        value, expires = entry
        if expires <= self._clock():
            del self._sums[key]
            return 0.0
        return value

    async def reserve(self, key: str, amount: float, limit: float, ttl_s: float) -> Decision:
        current = self._sum(key)
        if current + amount > limit:
            return Decision(False, current)
        self._sums[key] = (current + amount, self._clock() + ttl_s)
        return Decision(True, current + amount)

    async def adjust(self, key: str, delta: float, ttl_s: float) -> float:
        value = self._sum(key) + delta
        self._sums[key] = (value, self._clock() + ttl_s)
        return value

    async def spent(self, key: str) -> float:
        return self._sum(key)

    def _refill(self, key: str, capacity: float, period_s: float) -> _Bucket:
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(capacity, now)
        else:
            rate = capacity / period_s
            bucket.tokens = min(capacity, bucket.tokens + (now - bucket.updated) * rate)
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

    async def close(self) -> None:
        return None
