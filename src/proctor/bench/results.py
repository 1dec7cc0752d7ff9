"""What a bench run reports (`--json` prints these structs as they are), and the reduction
of each phase's rounds to medians."""

from __future__ import annotations

import statistics

import msgspec

from proctor.bench.load import PhaseResult, Summary
from proctor.bench.metering import MeteringCheck


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
    redis: str | None = None  # the Redis that served `--metering redis`, if any


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
    gateway_cpu_us_rounds: list[float] = []


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
    gateway_cpu_us_rounds: list[float] = []


class Delta(msgspec.Struct):
    """A metered gateway against the unmetered one measured in the same rounds.

    Latency deltas are the median over rounds of (metered - off) of the same round; as both
    are measured against the same direct phase, that is also the difference of their added
    latencies. `cpu_us` is the median over rounds of the difference in gateway CPU per
    request."""

    phase: str  # "non-stream c=1", ..., "throughput c=64"
    p50_ms: float
    p99_ms: float
    cpu_us: float
    cpu_ratio: float  # metered CPU per request / off CPU per request
    rps_ratio: float | None = None  # throughput phases: metered req/s / off req/s


class Section(msgspec.Struct):
    """Everything measured for one metering mode of `--compare-metering`."""

    metering: str
    cells: list[Cell]
    throughput: Throughput | None
    check: MeteringCheck
    versus_off: list[Delta]


class Report(msgspec.Struct):
    command: str
    machine: Machine
    rounds: int
    upstream_delay_ms: float
    cells: list[Cell]
    throughput: Throughput | None
    # The metering of the gateway that `cells` and `throughput` measured ("off": as issue 2),
    # and the evidence that it ran as configured.
    metering: str = "off"
    check: MeteringCheck | None = None
    # `--compare-metering`: the metered gateways, measured in the same rounds as `cells`.
    compare: list[Section] = []


def _median_of_differences(a: list[float], b: list[float]) -> float:
    pairs = list(zip(a, b, strict=False))
    return float(statistics.median(x - y for x, y in pairs)) if pairs else float("nan")


def versus(base_cells: list[Cell], base_tp: Throughput | None, section: Section) -> list[Delta]:
    """The deltas of `section` against the unmetered cells and throughput of the same run."""
    deltas = []
    off = {(c.stream, c.concurrency): c for c in base_cells}
    for cell in section.cells:
        ref = off.get((cell.stream, cell.concurrency))
        if ref is None:
            continue
        deltas.append(
            Delta(
                phase=f"{'stream' if cell.stream else 'non-stream'} c={cell.concurrency}",
                p50_ms=_median_of_differences(cell.added_p50_rounds, ref.added_p50_rounds),
                p99_ms=_median_of_differences(cell.added_p99_rounds, ref.added_p99_rounds),
                cpu_us=_median_of_differences(
                    cell.gateway_cpu_us_rounds, ref.gateway_cpu_us_rounds
                ),
                cpu_ratio=cell.gateway_cpu_us / ref.gateway_cpu_us if ref.gateway_cpu_us else 0,
            )
        )
    tp = section.throughput
    if tp is not None and base_tp is not None:
        deltas.append(
            Delta(
                phase=f"throughput c={tp.concurrency}",
                p50_ms=tp.gateway_latency.p50 - base_tp.gateway_latency.p50,
                p99_ms=tp.gateway_latency.p99 - base_tp.gateway_latency.p99,
                cpu_us=_median_of_differences(
                    tp.gateway_cpu_us_rounds, base_tp.gateway_cpu_us_rounds
                ),
                cpu_ratio=tp.gateway_cpu_us / base_tp.gateway_cpu_us
                if base_tp.gateway_cpu_us
                else 0,
                rps_ratio=tp.gateway_rps / base_tp.gateway_rps if base_tp.gateway_rps else None,
            )
        )
    return deltas


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


def reduce_cell(
    stream: bool, concurrency: int, pairs: list[tuple[PhaseResult, PhaseResult]]
) -> Cell:
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
        gateway_cpu_us_rounds=[r.server_cpu_us for r in gateway],
    )


def reduce_throughput(
    concurrency: int, duration_s: float, direct: list[PhaseResult], gateway: list[PhaseResult]
) -> Throughput:
    return Throughput(
        concurrency=concurrency,
        duration_s=duration_s,
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
        gateway_cpu_us_rounds=[r.server_cpu_us for r in gateway],
    )
