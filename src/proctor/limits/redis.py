"""The Redis backend of the Counter interface, shared by every gateway replica.

Each operation is one Lua script, so it is atomic and costs one round trip (EVALSHA; after
a Redis restart or SCRIPT FLUSH the first call falls back to SCRIPT LOAD once). Keys:

- `<prefix>sum:<key>`: a budget, an integer string of micro-units, with a PEXPIRE TTL.
- `<prefix>bucket:<key>`: a token bucket, a hash {tokens, ts} where ts is the Redis server
  clock in microseconds (TIME, read inside the script) so replicas whose clocks disagree
  still refill a bucket alike.

Each script touches one key, passed in KEYS, so the layout also suits Redis Cluster.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeoutError

from proctor.limits.counter import CounterUnavailable, Decision

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

_RESERVE = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current + tonumber(ARGV[1]) > tonumber(ARGV[2]) then
  return {0, current}
end
-- INCRBY rather than SET of a Lua number: Lua formats numbers with %.14g, which would
-- print large sums in exponent notation.
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {1, value}
"""

_ADJUST = """
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return value
"""

# Shared head of the bucket scripts: refill to the server's clock. ARGV: amount, capacity,
# period_s. Floats travel as %.17g strings both ways, which round-trips a double exactly.
_REFILL = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local amount = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local period = tonumber(ARGV[3])
local rate = capacity / period
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = capacity
else
  -- After a failover the new primary's clock may be behind: never refill negatively.
  tokens = math.min(capacity, tokens + math.max(0, now - ts) / 1000000 * rate)
end
local function save(left)
  redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', left),
             'ts', string.format('%.17g', now))
  -- A missing bucket reads as full, so the key may go once it would be full again: the
  -- time to refill from `left`, plus a period of slack (a couple of periods in all when
  -- left >= 0; longer when `give` drove it below zero).
  local ttl = math.ceil((period + (capacity - left) / rate) * 1000)
  redis.call('PEXPIRE', KEYS[1], string.format('%d', math.max(1, ttl)))
end
"""

# A refusal writes nothing: refilling is a function of time, so the next call computes the
# same tokens from the stored state as it would from a refreshed one.
_TAKE = (
    _REFILL
    + """
if tokens < amount then
  return {0, string.format('%.17g', tokens),
          string.format('%.17g', (amount - tokens) / rate)}
end
tokens = tokens - amount
save(tokens)
return {1, string.format('%.17g', tokens), '0'}
"""
)

_GIVE = (
    _REFILL
    + """
save(math.min(capacity, tokens + amount))
return 1
"""
)


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
        max_connections: int = 32,
    ) -> None:
        self._url = url
        self._where = redact(url)
        self._sums = prefix + "sum:"
        self._buckets = prefix + "bucket:"
        # An enforcement check sits on every request's path: a Redis slower than a second
        # is treated as down rather than stalling the gateway. URL options override these.
        self._timeout_s = timeout_s
        # Redis runs commands one at a time; a few dozen connections per replica saturate
        # it. Bounded so a burst waits for a connection instead of opening thousands.
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
                ("reserve", _RESERVE),
                ("adjust", _ADJUST),
                ("take", _TAKE),
                ("give", _GIVE),
            )
        }
        self._redis, self._loop = client, loop
        return client

    async def _run(self, script: str, key: str, *args: float | int | str) -> Any:
        self._client()
        try:
            return await self._scripts[script](keys=[key], args=args)
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

    async def close(self) -> None:
        redis, self._redis, self._loop = self._redis, None, None
        if redis is not None:
            await redis.aclose()  # closes the pool too (from_pool hands it over)


def _check_bucket(capacity: float, period_s: float) -> None:
    # A zero rate would store NaN/inf in Redis, which every later call would inherit.
    if not (capacity > 0 and period_s > 0):
        raise ValueError(f"bucket needs capacity > 0 and period_s > 0, got {capacity}, {period_s}")
