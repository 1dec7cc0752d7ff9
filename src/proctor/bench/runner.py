"""Orchestration: start the three processes, run the phases, reduce rounds to medians.

Overhead is measured in one run against one upstream: every cell (stream or not, at each
concurrency) runs a direct phase and a gateway phase back to back, in alternating order from
round to round so that drift on a shared machine hits both paths alike. The added latency of
a round is the gateway percentile minus the direct percentile; the report gives the median
over rounds of each figure.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import msgspec

from proctor.bench.gateway import MODEL, UPSTREAM_MODEL, openai_adapter_available
from proctor.bench.load import PhaseResult, PhaseSpec, Summary
from proctor.bench.procs import Child, ChildFailed, Placement, pin_self, placement

# (phase number, phases in all, fraction of this phase done, label)
Progress = Callable[[int, int, float, str], None]


@dataclass(frozen=True)
class Options:
    requests: int = 2000
    concurrency: tuple[int, ...] = (1, 32)
    rounds: int = 3
    warmup: int = 200
    streaming: tuple[bool, ...] = (False, True)
    duration_s: float = 4.0  # each throughput phase
    throughput_concurrency: int = 64
    throughput_rounds: int = 2
    pin: bool = True
    upstream_delay_ms: float = 0.0


class Machine(msgspec.Struct):
    date: str
    cpus: int
    cpu_model: str
    python: str
    platform: str
    placement: str
    provider: str
    request_log: str
    # 1-minute load average before and after the run: how busy the shared machine was.
    load_before: float
    load_after: float


class Cell(msgspec.Struct):
    """One (stream?, concurrency) combination: medians over rounds, in milliseconds."""

    stream: bool
    concurrency: int
    requests: int
    direct: Summary
    gateway: Summary
    added: Summary
    direct_ttfb: Summary | None
    gateway_ttfb: Summary | None
    added_ttfb: Summary | None
    direct_rps: float
    gateway_rps: float
    upstream_cpu_us: float  # per request, CPU of the upstream process (direct phases)
    gateway_cpu_us: float  # per request, CPU of the gateway process, all its threads
    added_p50_rounds: list[float]
    added_p99_rounds: list[float]
    server_timing: dict[str, float]
    errors: int


class Throughput(msgspec.Struct):
    concurrency: int
    duration_s: float
    direct_rps: float
    gateway_rps: float
    direct_rps_rounds: list[float]
    gateway_rps_rounds: list[float]
    upstream_cpu_us: float
    gateway_cpu_us: float
    # Share of one CPU the gateway got while saturated; well below 1 means other processes
    # ran on its CPU, and `1e6 / gateway_cpu_us` is the better estimate of its capacity.
    gateway_cpu_share: float
    gateway_latency: Summary
    server_timing: dict[str, float]
    errors: int


class Report(msgspec.Struct):
    command: str
    machine: Machine
    rounds: int
    upstream_delay_ms: float
    cells: list[Cell]
    throughput: Throughput | None


class Bench:
    """The running processes: upstream, gateway, load generator."""

    def __init__(self, upstream: Child, gateway: Child, load: Child, provider: str) -> None:
        self.upstream, self.gateway, self.load = upstream, gateway, load
        self.provider = provider

    @property
    def direct_url(self) -> str:
        return f"http://127.0.0.1:{self.upstream.port}/v1/chat/completions"

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway.port}/v1/chat/completions"

    def run(self, spec: PhaseSpec, on_progress: Callable[[float], None]) -> PhaseResult:
        server = self.upstream if spec.url == self.direct_url else self.gateway
        cpu_before = server.cpu_seconds()
        wall_before = time.perf_counter()
        self.load.send(msgspec.json.encode(spec))
        timeout = 120 + spec.duration_s
        while True:
            message = msgspec.json.decode(self.load.recv(timeout))
            if "progress" in message:
                on_progress(min(1.0, float(message["progress"])))
                continue
            result = msgspec.convert(message["result"], PhaseResult)
            if result.completed == 0:
                raise ChildFailed(f"no request succeeded against {spec.url}: {result.first_error}")
            served = spec.warmup + result.completed + result.errors
            cpu = server.cpu_seconds() - cpu_before
            result.server_cpu_us = cpu / served * 1e6
            result.server_cpu_share = cpu / max(1e-9, time.perf_counter() - wall_before)
            return result


@contextmanager
def started(options: Options) -> Iterator[tuple[Bench, Placement]]:
    where = placement(options.pin)
    pin_self(where.load)
    provider = "openai" if openai_adapter_available() else "sim"
    children: list[Child] = []
    with tempfile.TemporaryDirectory(prefix="proctor-bench-") as tmp:
        try:
            upstream = Child(
                "upstream",
                ["proctor.bench.upstream", "--delay-ms", str(options.upstream_delay_ms)],
                where.upstream,
            )
            children.append(upstream)
            upstream.wait_ready()
            gateway = Child(
                "gateway",
                [
                    "proctor.bench.gateway",
                    "--upstream",
                    f"http://127.0.0.1:{upstream.port}/v1",
                    "--provider",
                    provider,
                    "--db",
                    os.path.join(tmp, "bench.db"),
                ],
                where.gateway,
            )
            children.append(gateway)
            load = Child("load generator", ["proctor.bench.load"], where.load)
            children.append(load)
            gateway.wait_ready()
            load.wait_ready()
            yield Bench(upstream, gateway, load, provider), where
        finally:
            for child in reversed(children):
                child.stop()


def machine_info(where: Placement, provider: str, load_before: float) -> Machine:
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    upstream = "fast local upstream (proctor.bench.upstream)"
    return Machine(
        date=dt.date.today().isoformat(),
        cpus=os.cpu_count() or 0,
        cpu_model=model,
        python=f"{platform.python_implementation()} {platform.python_version()}",
        platform=platform.platform(),
        placement=where.describe(),
        provider=f"{provider} adapter -> {upstream}"
        if provider == "openai"
        else "sim (in-process; the OpenAI adapter is not available)",
        request_log="on: SQLite file (WAL), batched writer, default flush settings",
        load_before=load_before,
        load_after=_load(),
    )


def _load() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0


def _median_summary(summaries: list[Summary]) -> Summary:
    def med(field: str) -> float:
        return float(statistics.median(getattr(s, field) for s in summaries))

    return Summary(p50=med("p50"), p90=med("p90"), p99=med("p99"), mean=med("mean"), max=med("max"))


def _diff(a: Summary, b: Summary) -> Summary:
    return Summary(
        p50=a.p50 - b.p50,
        p90=a.p90 - b.p90,
        p99=a.p99 - b.p99,
        mean=a.mean - b.mean,
        max=a.max - b.max,
    )


def _mean_timings(results: list[PhaseResult]) -> dict[str, float]:
    names = dict.fromkeys(name for r in results for name in r.server_timing)
    return {n: statistics.fmean(r.server_timing.get(n, 0.0) for r in results) for n in names}


def _cell(stream: bool, concurrency: int, pairs: list[tuple[PhaseResult, PhaseResult]]) -> Cell:
    direct = [d for d, _ in pairs]
    gateway = [g for _, g in pairs]
    added = [_diff(g.latency, d.latency) for d, g in pairs if g.latency and d.latency]
    ttfb_pairs = [(d.ttfb, g.ttfb) for d, g in pairs if d.ttfb and g.ttfb]
    return Cell(
        stream=stream,
        concurrency=concurrency,
        requests=direct[0].spec.requests,
        direct=_median_summary([r.latency for r in direct if r.latency]),
        gateway=_median_summary([r.latency for r in gateway if r.latency]),
        added=_median_summary(added),
        direct_ttfb=_median_summary([d for d, _ in ttfb_pairs]) if ttfb_pairs else None,
        gateway_ttfb=_median_summary([g for _, g in ttfb_pairs]) if ttfb_pairs else None,
        added_ttfb=_median_summary([_diff(g, d) for d, g in ttfb_pairs]) if ttfb_pairs else None,
        direct_rps=statistics.median(r.rps for r in direct),
        gateway_rps=statistics.median(r.rps for r in gateway),
        upstream_cpu_us=statistics.median(r.server_cpu_us for r in direct),
        gateway_cpu_us=statistics.median(r.server_cpu_us for r in gateway),
        added_p50_rounds=[a.p50 for a in added],
        added_p99_rounds=[a.p99 for a in added],
        server_timing=_mean_timings(gateway),
        errors=sum(r.errors for r in direct + gateway),
    )


def _label(spec: PhaseSpec, bench: Bench) -> str:
    path = "direct " if spec.url == bench.direct_url else "gateway"
    kind = "stream" if spec.stream else "whole "
    return f"{path} {kind} c={spec.concurrency}"


def _phase(
    bench: Bench, spec: PhaseSpec, progress: Progress, where: tuple[int, int, str]
) -> PhaseResult:
    done, total, label = where
    return bench.run(spec, lambda fraction: progress(done, total, fraction, label))


def overhead_cells(bench: Bench, options: Options, progress: Progress) -> list[Cell]:
    combos = [(s, c) for s in options.streaming for c in options.concurrency]
    total = len(combos) * options.rounds * 2
    done = 0
    pairs: dict[tuple[bool, int], list[tuple[PhaseResult, PhaseResult]]] = {k: [] for k in combos}
    for round_no in range(options.rounds):
        for stream, concurrency in combos:
            results: dict[str, PhaseResult] = {}
            order = ("direct", "gateway") if round_no % 2 == 0 else ("gateway", "direct")
            for path in order:
                url = bench.direct_url if path == "direct" else bench.gateway_url
                spec = PhaseSpec(
                    url=url,
                    model=UPSTREAM_MODEL if path == "direct" else MODEL,
                    stream=stream,
                    concurrency=concurrency,
                    requests=max(options.requests, concurrency),
                    warmup=max(options.warmup, 2 * concurrency),
                    stagger_s=options.upstream_delay_ms / 1000,
                )
                label = f"round {round_no + 1}/{options.rounds}: {_label(spec, bench)}"
                results[path] = _phase(bench, spec, progress, (done, total, label))
                done += 1
                progress(done, total, 0.0, label)
            pairs[(stream, concurrency)].append((results["direct"], results["gateway"]))
    return [_cell(s, c, pairs[(s, c)]) for s, c in combos]


def throughput(bench: Bench, options: Options, progress: Progress) -> Throughput:
    total = options.throughput_rounds * 2
    direct: list[PhaseResult] = []
    gateway: list[PhaseResult] = []
    done = 0
    for round_no in range(options.throughput_rounds):
        order = ("direct", "gateway") if round_no % 2 == 0 else ("gateway", "direct")
        for path in order:
            spec = PhaseSpec(
                url=bench.direct_url if path == "direct" else bench.gateway_url,
                model=UPSTREAM_MODEL if path == "direct" else MODEL,
                stream=False,
                concurrency=options.throughput_concurrency,
                duration_s=options.duration_s,
                warmup=4 * options.throughput_concurrency,
                stagger_s=options.upstream_delay_ms / 1000,
            )
            label = f"throughput {round_no + 1}/{options.throughput_rounds}: {_label(spec, bench)}"
            result = _phase(bench, spec, progress, (done, total, label))
            (direct if path == "direct" else gateway).append(result)
            done += 1
            progress(done, total, 0.0, label)
    return Throughput(
        concurrency=options.throughput_concurrency,
        duration_s=options.duration_s,
        direct_rps=statistics.median(r.rps for r in direct),
        gateway_rps=statistics.median(r.rps for r in gateway),
        direct_rps_rounds=[r.rps for r in direct],
        gateway_rps_rounds=[r.rps for r in gateway],
        upstream_cpu_us=statistics.median(r.server_cpu_us for r in direct),
        gateway_cpu_us=statistics.median(r.server_cpu_us for r in gateway),
        gateway_cpu_share=statistics.median(r.server_cpu_share for r in gateway),
        gateway_latency=_median_summary([r.latency for r in gateway if r.latency]),
        server_timing=_mean_timings(gateway),
        errors=sum(r.errors for r in direct + gateway),
    )


def command_line() -> str:
    args = sys.argv[1:]
    return " ".join(["proctor", *args]) if args else "proctor bench"


def run(options: Options, progress: Progress, *, latency: bool, capacity: bool) -> Report:
    load_before = _load()
    with started(options) as (bench, where):
        cells = overhead_cells(bench, options, progress) if latency else []
        capacity_result = throughput(bench, options, progress) if capacity else None
        machine = machine_info(where, bench.provider, load_before)
    return Report(
        command=command_line(),
        machine=machine,
        rounds=options.rounds,
        upstream_delay_ms=options.upstream_delay_ms,
        cells=cells,
        throughput=capacity_result,
    )
