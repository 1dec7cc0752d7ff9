"""The load generator: closed loop, N concurrent workers on one keep-alive aiohttp pool.

It runs in its own process and is driven over stdin/stdout, one JSON object a line: the
orchestrator writes a `PhaseSpec`, the generator answers with `{"progress": fraction}` lines
while it runs and one `{"result": PhaseResult}` line at the end. A phase either sends a fixed
number of requests or runs for a duration; its warm-up requests are sent first and dropped.

Per request it measures the total latency (send to last byte) and, for streams, the time to
the first byte of the body (the first content event); from the gateway it also reads the
`Server-Timing` header and sums each stage, and counts the answers that carry the metering
headers (`x-proctor-cost-usd`, `x-ratelimit-*`).
"""

from __future__ import annotations

import asyncio
import math
import sys
import time
from collections.abc import Callable, Sequence

import aiohttp
import msgspec

from proctor.bench.upstream import pin


class PhaseSpec(msgspec.Struct, frozen=True):
    url: str
    model: str
    stream: bool
    concurrency: int
    requests: int = 0  # measured requests; 0 means run for `duration_s`
    duration_s: float = 0.0
    warmup: int = 0
    # Spread the workers' first requests over this many seconds, so that with a slow
    # upstream they do not move in lockstep waves (all answers arriving at once).
    stagger_s: float = 0.0
    # Sent with every request: a virtual key (`authorization`) and the OpenAI `user` field.
    headers: dict[str, str] = {}
    user: str | None = None


class Summary(msgspec.Struct):
    """Percentiles of one series, in milliseconds."""

    p50: float
    p90: float
    p99: float
    mean: float
    max: float


class PhaseResult(msgspec.Struct):
    spec: PhaseSpec
    completed: int
    errors: int
    elapsed_s: float
    rps: float
    latency: Summary | None
    ttfb: Summary | None
    # Mean milliseconds per Server-Timing entry (the gateway's stages, then `total`).
    server_timing: dict[str, float]
    first_error: str | None = None
    # CPU time (user + system, all threads) the serving process spent per request; set by
    # the orchestrator, which can see that process.
    server_cpu_us: float = 0.0
    # That CPU time over the phase's wall time: near 1.0 when a saturated server had its
    # CPU to itself, lower when other processes took turns on it.
    server_cpu_share: float = 0.0
    # Of the `completed` 200s, how many carried `x-proctor-cost-usd` and `x-ratelimit-*`.
    with_cost: int = 0
    with_ratelimit: int = 0


def percentile(ordered: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks; `ordered` is sorted ascending."""
    if not ordered:
        return math.nan
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarize(values_ns: list[int]) -> Summary | None:
    if not values_ns:
        return None
    ordered = sorted(v / 1e6 for v in values_ns)
    return Summary(
        p50=percentile(ordered, 50),
        p90=percentile(ordered, 90),
        p99=percentile(ordered, 99),
        mean=sum(ordered) / len(ordered),
        max=ordered[-1],
    )


def request_body(model: str, stream: bool, user: str | None = None) -> bytes:
    body: dict[str, object] = {
        "model": model,
        "messages": [{"role": "user", "content": "Say hello to the benchmark."}],
        "max_tokens": 16,
        "stream": stream,
    }
    if user is not None:
        body["user"] = user
    return msgspec.json.encode(body)


class _Tally:
    def __init__(self) -> None:
        self.latency: list[int] = []
        self.ttfb: list[int] = []
        self.timing_sum: dict[str, float] = {}
        self.timing_count = 0
        self.errors = 0
        self.first_error: str | None = None
        self.with_cost = 0
        self.with_ratelimit = 0

    def fail(self, message: str) -> None:
        self.errors += 1
        if self.first_error is None:
            self.first_error = message

    def add_timing(self, header: str) -> None:
        self.timing_count += 1
        sums = self.timing_sum
        for part in header.split(","):
            name, _, rest = part.strip().partition(";dur=")
            if rest:
                sums[name] = sums.get(name, 0.0) + float(rest)


async def _one(
    session: aiohttp.ClientSession, spec: PhaseSpec, body: bytes, tally: _Tally | None
) -> None:
    clock = time.perf_counter_ns
    start = clock()
    first = 0
    try:
        async with session.post(spec.url, data=body) as response:
            if spec.stream:
                async for _ in response.content.iter_any():
                    if not first:
                        first = clock()
            else:
                await response.read()
            status = response.status
            headers = response.headers
            timing = headers.get("server-timing")
            cost = "x-proctor-cost-usd" in headers
            ratelimit = "x-ratelimit-limit-requests" in headers
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        if tally is not None:
            tally.fail(f"{type(exc).__name__}: {exc}")
        return
    end = clock()
    if tally is None:
        return
    if status != 200:
        tally.fail(f"HTTP {status}")
        return
    tally.latency.append(end - start)
    tally.with_cost += cost
    tally.with_ratelimit += ratelimit
    if first:
        tally.ttfb.append(first - start)
    if timing:
        tally.add_timing(timing)


async def _drive(
    session: aiohttp.ClientSession,
    spec: PhaseSpec,
    count: int,
    deadline_ns: int,
    tally: _Tally | None,
) -> None:
    """`concurrency` workers; stop after `count` requests, or at the deadline if count is 0."""
    body = request_body(spec.model, spec.stream, spec.user)
    remaining = count
    clock = time.perf_counter_ns

    async def worker(index: int) -> None:
        nonlocal remaining
        if spec.stagger_s > 0:
            await asyncio.sleep(spec.stagger_s * index / spec.concurrency)
        while True:
            if count:
                if remaining <= 0:
                    return
                remaining -= 1
            elif clock() >= deadline_ns:
                return
            await _one(session, spec, body, tally)

    await asyncio.gather(*(worker(i) for i in range(spec.concurrency)))


async def run_phase(spec: PhaseSpec, progress: Callable[[float], None]) -> PhaseResult:
    connector = aiohttp.TCPConnector(limit=spec.concurrency, force_close=False)
    async with aiohttp.ClientSession(
        connector=connector,
        headers={"content-type": "application/json", **spec.headers},
        skip_auto_headers=("User-Agent",),
        timeout=aiohttp.ClientTimeout(total=60),
    ) as session:
        if spec.warmup:
            await _drive(session, spec, spec.warmup, 0, None)
        tally = _Tally()
        start = time.perf_counter_ns()
        deadline = start + int(spec.duration_s * 1e9)

        async def report() -> None:
            while True:
                await asyncio.sleep(0.25)
                if spec.requests:
                    done = len(tally.latency) + tally.errors
                    progress(done / spec.requests)
                else:
                    progress((time.perf_counter_ns() - start) / max(1, deadline - start))

        reporter = asyncio.create_task(report())
        try:
            await _drive(session, spec, spec.requests, deadline, tally)
        finally:
            reporter.cancel()
        elapsed = (time.perf_counter_ns() - start) / 1e9
    completed = len(tally.latency)
    count = max(1, tally.timing_count)
    return PhaseResult(
        spec=spec,
        completed=completed,
        errors=tally.errors,
        elapsed_s=elapsed,
        rps=completed / elapsed if elapsed > 0 else 0.0,
        latency=summarize(tally.latency),
        ttfb=summarize(tally.ttfb),
        server_timing={k: v / count for k, v in tally.timing_sum.items()},
        first_error=tally.first_error,
        with_cost=tally.with_cost,
        with_ratelimit=tally.with_ratelimit,
    )


def _emit(obj: object) -> None:
    sys.stdout.buffer.write(msgspec.json.encode(obj) + b"\n")
    sys.stdout.buffer.flush()


def main(argv: list[str] | None = None) -> None:
    """Serve phases read from stdin until it closes."""
    import argparse

    parser = argparse.ArgumentParser(description="proctor bench load generator")
    parser.add_argument("--cpus", default=None)
    args = parser.parse_args(argv)
    pin(args.cpus)
    try:
        import uvloop

        new_loop: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    except ImportError:  # pragma: no cover
        new_loop = asyncio.new_event_loop
    print("listening 0", flush=True)
    decoder = msgspec.json.Decoder(PhaseSpec)
    for line in sys.stdin.buffer:
        if not line.strip():
            continue
        spec = decoder.decode(line)
        with asyncio.Runner(loop_factory=new_loop) as runner:
            result = runner.run(run_phase(spec, lambda f: _emit({"progress": f})))
        _emit({"result": result})


if __name__ == "__main__":
    main()
