"""The Redis backend of the Counter interface, shared by every gateway replica.

Each operation is one Lua script, so it is atomic and costs one round trip (EVALSHA; after
a Redis restart or SCRIPT FLUSH the first call falls back to SCRIPT LOAD once). Keys:

- `<prefix>sum:<key>`: a budget, an integer string of micro-units, with a PEXPIRE TTL.
- `<prefix>bucket:<key>`: a token bucket, a hash {tokens, ts} where ts is the Redis server
  clock in microseconds (TIME, read inside the script) so replicas whose clocks disagree
  still refill a bucket alike.

The request path uses the batch scripts: `acquire` (every bucket and budget of a request in
one call) and `settle` (the settlements of many finished requests in one call). All keys are
passed in KEYS. A batch touches several keys, which Redis Cluster accepts only when they
share a hash slot: on a cluster, give `redis.prefix` a hash tag (`{proctor}:`).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeoutError

from proctor.limits import redis_scripts as lua
from proctor.limits.counter import (
    Adjust,
    CounterUnavailable,
    Decision,
    Grant,
    Reserve,
    Take,
)

# Budgets are stored as integers of micro-units (1e-6 USD, or of whatever the budget counts)
# rather than INCRBYFLOAT strings. Why: INCRBYFLOAT keeps a binary long double, so decimal
# amounts drift (0.1 + 0.2 > 0.3 refuses a reservation that fits exactly), and the check
# `sum + amount <= limit` runs in Lua doubles anyway; its precision also differs between
# x86 (80-bit) and ARM (64-bit) servers. Integers make every sum and every boundary exact.
# Range: Lua numbers are doubles, exact up to 2**53 micro-units, i.e. +-9e9 units per key.
# Resolution: an amount is rounded to the nearest micro-unit (a request cheaper than
# $0.0000005 counts as 0), which is far below any price list's precision per request.
SCALE = 1_000_000
_MAX_UNITS = 2**53 / SCALE


def _micro(amount: float) -> int:
    if not -_MAX_UNITS <= amount <= _MAX_UNITS:
        raise ValueError(f"amount {amount} outside the exact range of +-{_MAX_UNITS:.0f}")
    return round(amount * SCALE)


def _ms(seconds: float) -> int:
    # PEXPIRE refuses 0 and would delete on negatives; round up so a TTL is never shortened.
    return max(1, math.ceil(seconds * 1000))


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class RedisCounter:
    """Counters in Redis. Create it anywhere; the connection pool is created on first use
    inside the running event loop (redis-py's asyncio connections belong to one loop) and
    `close()` releases it, after which the next use starts a new one."""

    def __init__(
        self,
        url: str,
        prefix: str = "proctor:",
        *,
        timeout_s: float = 1.0,
        max_connections: int = 128,
    ) -> None:
        self._url = url
        self._where = redact(url)
        self._sums = prefix + "sum:"
        self._buckets = prefix + "bucket:"
        # An enforcement check sits on every request's path: a Redis slower than a second
        # is treated as down rather than stalling the gateway. URL options override these.
        self._timeout_s = timeout_s
        # A request holds a connection for one round trip at admission; the pool is sized
        # above the concurrency one process serves (a waiting request counts against the
        # timeout and, past it, is served unmetered), and bounded so a burst waits for a
        # connection instead of opening thousands.
        self._max_connections = max_connections
        self._redis: Redis | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._scripts: dict[str, AsyncScript] = {}

    def _client(self) -> Redis:
        loop = asyncio.get_running_loop()
        if self._redis is not None:
            if loop is not self._loop:
                raise RuntimeError("RedisCounter used from another event loop; close() it first")
            return self._redis
        pool = BlockingConnectionPool.from_url(
            self._url,
            max_connections=self._max_connections,
            timeout=self._timeout_s,
            socket_timeout=self._timeout_s,
            socket_connect_timeout=self._timeout_s,
            # No retries: a script whose reply was lost may have run, and running `reserve`
            # or `adjust` again would count it twice. redis-py's default retries 3 times
            # with backoff, which would also hide an outage for seconds.
            retry=Retry(NoBackoff(), 0),
        )
        client = Redis.from_pool(pool)
        # register_script only hashes the text; EVALSHA runs it and, on NOSCRIPT, the
        # script object loads it and retries (safe: NOSCRIPT means nothing ran).
        self._scripts = {
            name: client.register_script(text)
            for name, text in (
                ("reserve", lua.RESERVE),
                ("adjust", lua.ADJUST),
                ("take", lua.TAKE),
                ("give", lua.GIVE),
                ("acquire", lua.ACQUIRE),
                ("settle", lua.SETTLE),
            )
        }
        self._redis, self._loop = client, loop
        return client

    async def _run(self, script: str, key: str, *args: float | int | str) -> Any:
        return await self._run_many(script, [key], args)

    async def _run_many(
        self, script: str, keys: Sequence[str], args: Sequence[float | int | str]
    ) -> Any:
        self._client()
        try:
            return await self._scripts[script](keys=keys, args=args)
        except (RedisConnectionError, RedisTimeoutError, ReadOnlyError) as exc:
            raise self._unavailable(exc) from exc

    def _unavailable(self, exc: Exception) -> CounterUnavailable:
        return CounterUnavailable(
            f"Redis counter at {self._where} unavailable: {type(exc).__name__}: {exc}"
        )

    async def reserve(self, key: str, amount: float, limit: float, ttl_s: float) -> Decision:
        allowed, value = await self._run(
            "reserve", self._sums + key, _micro(amount), _micro(limit), _ms(ttl_s)
        )
        return Decision(bool(allowed), int(value) / SCALE)

    async def adjust(self, key: str, delta: float, ttl_s: float) -> float:
        value = await self._run("adjust", self._sums + key, _micro(delta), _ms(ttl_s))
        return int(value) / SCALE

    async def spent(self, key: str) -> float:
        # A single GET is atomic already; no script needed.
        client = self._client()
        try:
            value = await client.get(self._sums + key)
        except (RedisConnectionError, RedisTimeoutError) as exc:
            raise self._unavailable(exc) from exc
        return 0.0 if value is None else int(value) / SCALE

    async def take(self, key: str, amount: float, capacity: float, period_s: float) -> Decision:
        _check_bucket(capacity, period_s)
        allowed, tokens, retry_after = await self._run(
            "take", self._buckets + key, float(amount), float(capacity), float(period_s)
        )
        return Decision(bool(allowed), float(tokens), float(retry_after))

    async def give(self, key: str, amount: float, capacity: float, period_s: float) -> None:
        _check_bucket(capacity, period_s)
        await self._run(
            "give", self._buckets + key, float(amount), float(capacity), float(period_s)
        )

    async def acquire(self, takes: Sequence[Take], reserves: Sequence[Reserve]) -> Grant:
        if not takes and not reserves:
            return Grant(-1, ())
        keys = [self._buckets + t.key for t in takes] + [self._sums + r.key for r in reserves]
        args: list[float | int | str] = [len(takes)]
        for take in takes:
            _check_bucket(take.capacity, take.period_s)
            args += (float(take.amount), float(take.capacity), float(take.period_s))
        for reserve in reserves:
            args += (_micro(reserve.amount), _micro(reserve.limit), _ms(reserve.ttl_s))
        refused, retry_after, *values = await self._run_many("acquire", keys, args)
        figures = [float(v) for v in values[: len(takes)]]
        figures += [int(v) / SCALE for v in values[len(takes) :]]
        return Grant(int(refused) - 1, tuple(figures), float(retry_after))

    async def settle(self, adjusts: Sequence[Adjust], gives: Sequence[Take]) -> list[float]:
        if not adjusts and not gives:
            return []
        keys = [self._sums + a.key for a in adjusts] + [self._buckets + g.key for g in gives]
        args: list[float | int | str] = [len(adjusts)]
        for adjust in adjusts:
            args += (_micro(adjust.delta), _ms(adjust.ttl_s))
        for give in gives:
            _check_bucket(give.capacity, give.period_s)
            args += (float(give.amount), float(give.capacity), float(give.period_s))
        spent = await self._run_many("settle", keys, args)
        return [int(value) / SCALE for value in spent]

    async def close(self) -> None:
        redis, self._redis, self._loop = self._redis, None, None
        if redis is not None:
            await redis.aclose()  # closes the pool too (from_pool hands it over)


def _check_bucket(capacity: float, period_s: float) -> None:
    # A zero rate would store NaN/inf in Redis, which every later call would inherit.
    if not (capacity > 0 and period_s > 0):
        raise ValueError(f"bucket needs capacity > 0 and period_s > 0, got {capacity}, {period_s}")
