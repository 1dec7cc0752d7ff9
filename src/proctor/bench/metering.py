"""Metering under benchmark: the cost and limit stages (issue 4) switched on in the gateway.

`off` leaves the gateway as issue 2 measured it: no keys, no budgets, no limits, no price for
the bench model. `memory` and `redis` give it what a metered deployment has, with limits so
large that nothing is ever refused, so that every request does all of the work:

- a price for the bench model (`pricing:`), so settle computes a cost;
- a global daily budget and a per-user monthly budget: two worst-case reservations at admit,
  two adjustments when the request finishes;
- per-user rpm and tpm: two token buckets taken at admit, the tpm one settled afterwards;
- one virtual key, sent by the load generator as `Authorization: Bearer`, and a `user` on
  every request, so identify hashes and looks up the key and the per-user rules apply;
- for `redis`, the counters in Redis under a key prefix unique to the run, deleted at the end.

Whether metering really ran is checked from what the gateway answered (`x-proctor-cost-usd`,
`x-ratelimit-*`), from its request log (cost of every request, streams included) and, for
Redis, from the keys found under the run's prefix.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import sqlite3
import sys
from typing import Any, Literal, get_args

import msgspec

from proctor.bench.procs import ChildFailed

Metering = Literal["off", "memory", "redis"]
MODES: tuple[Metering, ...] = get_args(Metering)
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
BENCH_USER = "bench-user"
# Never reached in a run: the stages do all their work and never refuse.
BUDGET_USD = 1e6
RPM = 1_000_000
TPM = 1_000_000_000
PRICE = {"input": 1.0, "output": 2.0}  # USD per million tokens


def config_sections(
    metering: Metering, model: str, redis_url: str | None, redis_prefix: str | None
) -> dict[str, Any]:
    """The config sections that switch metering on (none for `off`)."""
    if metering == "off":
        return {}
    sections: dict[str, Any] = {
        # The simulator serves `sim/<model>` (the fallback when the OpenAI adapter is absent).
        "pricing": {model: PRICE, f"sim/{model}": PRICE},
        "budgets": [
            {"scope": "global", "limit_usd": BUDGET_USD, "period": "day", "name": "bench-global"},
            {"scope": "user", "limit_usd": BUDGET_USD, "name": "bench-user"},
        ],
        "limits": [{"scope": "user", "rpm": RPM, "tpm": TPM}],
    }
    if metering == "redis":
        if redis_url is None or redis_prefix is None:
            raise ValueError("metering=redis needs a Redis URL and a key prefix")
        sections["redis"] = {"url": redis_url, "prefix": redis_prefix}
    return sections


def new_prefix() -> str:
    """A Redis key prefix of its own for each run, so runs never share or clobber counters."""
    return f"proctor-bench:{secrets.token_hex(6)}:"


def create_key(db_paths: list[str]) -> str:
    """One virtual key (no limits of its own) written to each gateway's store; its secret."""
    from proctor.keys.spec import KeySpec, check, issue
    from proctor.store.base import open_store

    record, secret = issue(check(KeySpec(name="bench")))

    async def write(path: str) -> None:
        store = open_store(f"sqlite:///{path}")
        await store.open()
        try:
            await store.create_key(record)
        finally:
            await store.close()

    for path in db_paths:
        asyncio.run(write(path))
    return secret


def _redis(url: str) -> Any:
    from redis import Redis

    return Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)


def redis_description(url: str) -> str:
    """Which Redis serves the counters, or ChildFailed when it does not answer."""
    from redis import __version__ as redis_py
    from redis.exceptions import RedisError
    from redis.utils import HIREDIS_AVAILABLE

    from proctor.limits.redis import redact

    client = _redis(url)
    try:
        version = client.info("server").get("redis_version", "?")
    except RedisError as exc:
        raise ChildFailed(f"Redis at {redact(url)} does not answer: {exc}") from None
    finally:
        client.close()
    parser = "hiredis" if HIREDIS_AVAILABLE else "pure-Python parser (no hiredis)"
    return (
        f"Redis {version} at {redact(url)}, not pinned (it shares the machine's CPUs); "
        f"redis-py {redis_py}, {parser}"
    )


def redis_cpu_seconds(url: str) -> float:
    """CPU time (user + system) the Redis server has used so far; 0 where unknown."""
    from redis.exceptions import RedisError

    client = _redis(url)
    try:
        info = client.info("cpu")
    except RedisError:
        return 0.0
    finally:
        client.close()
    return float(info.get("used_cpu_user", 0.0)) + float(info.get("used_cpu_sys", 0.0))


# What the gateway logs when a counter operation fails and the request goes on unmetered
# (fail open) or its settlement is lost (proctor.limits.admission).
FAILURE_LINES = ("limits backend failed", "settling limits failed")


def backend_failures(log_text: str) -> int:
    return sum(log_text.count(line) for line in FAILURE_LINES)


def delete_prefix(url: str, prefix: str) -> int | None:
    """Delete every key under `prefix` (SCAN + DEL, never KEYS); how many there were, or
    None (with a warning) when Redis no longer answers: a failed cleanup must not hide
    the error that stopped the run."""
    from redis.exceptions import RedisError

    client = _redis(url)
    deleted = 0
    try:
        batch: list[bytes] = []
        for key in client.scan_iter(match=f"{prefix}*", count=1000):
            batch.append(key)
            if len(batch) >= 500:
                deleted += int(client.delete(*batch))
                batch = []
        if batch:
            deleted += int(client.delete(*batch))
    except RedisError as exc:
        print(f"warning: could not delete the Redis keys {prefix}*: {exc}", file=sys.stderr)
        return None
    finally:
        client.close()
    return deleted


def logged_costs(db_path: str) -> tuple[int, int]:
    """(requests answered 200, those logged with a cost) in a gateway's request log."""
    with contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as db:
        row = db.execute(
            "SELECT count(*), count(cost_usd) FROM requests WHERE status = 200"
        ).fetchone()
    return int(row[0]), int(row[1])


class MeteringCheck(msgspec.Struct):
    """Evidence that the stages ran: what the gateway answered and what it logged.

    Streams carry no `x-proctor-cost-usd` (their cost is known after the last chunk, once
    the headers are gone); the request log has the cost of every request, streams included.
    """

    metering: str
    ok: int = 0  # 200 responses measured (warm-up excluded)
    non_stream_ok: int = 0
    with_cost: int = 0  # of the 200s, how many carried x-proctor-cost-usd
    with_ratelimit: int = 0  # ... and x-ratelimit-limit-requests
    logged: int = 0  # request-log rows with status 200 (warm-up included)
    logged_with_cost: int = 0
    redis_keys: int | None = None  # counters found under the run's prefix, then deleted
    # Counter operations that failed (Redis timed out...), from the gateway's log: each one
    # is a request served unmetered (fail open) or a settlement lost.
    backend_failures: int = 0
    # CPU of the Redis server per request served by the Redis-metered gateway (warm-up
    # included); Redis is not pinned, so this CPU is taken from the other processes.
    redis_cpu_us: float | None = None

    @property
    def verified(self) -> bool:
        if self.metering == "off":
            return self.with_cost == 0 and self.with_ratelimit == 0 and self.logged_with_cost == 0
        redis_ok = self.metering != "redis" or bool(self.redis_keys)
        return (
            self.ok > 0
            and self.with_cost == self.non_stream_ok
            and self.with_ratelimit == self.ok
            and self.logged_with_cost == self.logged
            and self.backend_failures == 0
            and redis_ok
        )

    def describe(self) -> str:
        text = (
            f"metering {self.metering}: {self.ok:,} measured 200s, "
            f"{self.with_cost:,} of {self.non_stream_ok:,} non-stream with x-proctor-cost-usd, "
            f"{self.with_ratelimit:,} with x-ratelimit-*; request log: "
            f"{self.logged_with_cost:,} of {self.logged:,} rows with a cost"
        )
        if self.redis_keys is not None:
            text += f"; {self.redis_keys} Redis keys under the run's prefix (deleted)"
        if self.redis_cpu_us is not None:
            text += f"; Redis server CPU {self.redis_cpu_us:,.0f} µs per request"
        if self.backend_failures:
            text += f"; {self.backend_failures} counter operations FAILED (served unmetered)"
        return text
