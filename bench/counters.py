"""Micro-benchmark of the Counter backends: latency and throughput of each operation.

    .venv/bin/python bench/counters.py [--ops 20000] [--concurrency 64] [--redis-url URL]

For each backend and operation it runs `--ops` calls one at a time (latency: p50/p99 of
each call) and then `--ops` calls from `--concurrency` tasks at once (throughput: calls per
second). Redis also gets a bare PING, the floor that any one-round-trip operation sits on.
Redis keys go under a random prefix and are deleted afterwards. Timing lives here only:
the tests assert behaviour, never speed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis
from redis.utils import HIREDIS_AVAILABLE

from proctor.limits.counter import Counter, MemoryCounter
from proctor.limits.redis import RedisCounter, redact

Op = Callable[[int], Awaitable[object]]
BIG = 1e9  # limits and capacities that never refuse, so every call does the full write


def operations(counter: Counter) -> dict[str, Op]:
    # A handful of keys, as a gateway would hit a few budgets and limits per request.
    def key(i: int) -> str:
        return f"bench:{i % 16}"

    return {
        "reserve": lambda i: counter.reserve(key(i), 0.001, BIG, 60.0),
        "adjust": lambda i: counter.adjust(key(i), -0.0005, 60.0),
        "spent": lambda i: counter.spent(key(i)),
        "take": lambda i: counter.take(key(i), 1.0, BIG, 60.0),
        "give": lambda i: counter.give(key(i), 0.5, BIG, 60.0),
    }


async def latency(op: Op, n: int) -> tuple[float, float]:
    samples = []
    for i in range(n):
        start = time.perf_counter_ns()
        await op(i)
        samples.append(time.perf_counter_ns() - start)
    cuts = statistics.quantiles(samples, n=100)
    return cuts[49] / 1000, cuts[98] / 1000  # microseconds


async def throughput(op: Op, n: int, concurrency: int) -> float:
    counter = iter(range(n))

    async def worker() -> None:
        for i in counter:
            await op(i)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return n / (time.perf_counter() - start)


async def bench(name: str, ops: dict[str, Op], n: int, concurrency: int) -> None:
    for op_name, op in ops.items():
        for i in range(min(n, 1000)):  # warm-up: scripts loaded, pool filled, caches hot
            await op(i)
        p50, p99 = await latency(op, n)
        rate = await throughput(op, n, concurrency)
        print(f"{name:<7} {op_name:<8} {rate:>12,.0f} {p50:>10.1f} {p99:>10.1f}")


async def main(args: argparse.Namespace) -> None:
    print(f"ops={args.ops} concurrency={args.concurrency} hiredis={HIREDIS_AVAILABLE}")
    print(f"{'backend':<7} {'op':<8} {'ops/s (c)':>12} {'p50 us':>10} {'p99 us':>10}")
    await bench("memory", operations(MemoryCounter()), args.ops, args.concurrency)

    prefix = f"proctor-bench:{uuid.uuid4().hex}:"
    counter = RedisCounter(args.redis_url, prefix, max_connections=args.concurrency)
    admin = Redis.from_url(args.redis_url)
    try:
        ops = {"ping": lambda _: admin.ping(), **operations(counter)}
        await bench("redis", ops, args.ops, args.concurrency)
    finally:
        await counter.close()
        keys = [k async for k in admin.scan_iter(match=prefix + "*", count=1000)]
        if keys:
            await admin.delete(*keys)
        await admin.aclose()
    print(f"redis: {redact(args.redis_url)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("PROCTOR_TEST_REDIS_URL") or "redis://127.0.0.1:6379/15",
    )
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop (as the server)")
    arguments = parser.parse_args()
    if arguments.uvloop:
        import uvloop

        uvloop.run(main(arguments))
    else:
        asyncio.run(main(arguments))
