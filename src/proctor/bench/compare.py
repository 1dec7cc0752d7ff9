"""Tables of `--compare-metering`: each metering mode next to the unmetered gateway."""

from __future__ import annotations

from dataclasses import dataclass

from proctor.bench.metering import MeteringCheck
from proctor.bench.results import Cell, Delta, Report, Throughput

# The stages of issue 4 first, then the rest of the pipeline's Server-Timing entries.
STAGES = ("identify", "admit", "settle", "route", "call", "total")


@dataclass(frozen=True)
class Mode:
    """One gateway of the run: its cells, throughput and deltas (none for the baseline)."""

    metering: str
    cells: list[Cell]
    throughput: Throughput | None
    check: MeteringCheck | None
    deltas: dict[str, Delta]


def modes(report: Report) -> list[Mode]:
    base = Mode(report.metering, report.cells, report.throughput, report.check, {})
    others = [
        Mode(s.metering, s.cells, s.throughput, s.check, {d.phase: d for d in s.versus_off})
        for s in report.compare
    ]
    return [base, *others]


def phase_name(cell: Cell) -> str:
    return f"{'stream' if cell.stream else 'non-stream'} c={cell.concurrency}"


def _signed(value: float, unit: str = "", digits: int = 2) -> str:
    return f"{value:+.{digits}f}{unit}"


LATENCY_HEADERS = [
    "phase",
    "metering",
    "direct p50",
    "direct p99",
    "added p50",
    "added p99",
    "Δ p50 vs off",
    "Δ p99 vs off",
    "gw CPU µs/req",
    "Δ CPU µs vs off",
    "CPU vs off",
]


def latency_rows(report: Report) -> list[list[str]]:
    rows = []
    all_modes = modes(report)
    for index in range(len(report.cells)):
        for mode in all_modes:
            c = mode.cells[index]
            delta = mode.deltas.get(phase_name(c))
            rows.append(
                [
                    phase_name(c),
                    mode.metering,
                    f"{c.direct.p50:.2f}",
                    f"{c.direct.p99:.2f}",
                    f"{c.added.p50:.2f}",
                    f"{c.added.p99:.2f}",
                    _signed(delta.p50_ms) if delta else "-",
                    _signed(delta.p99_ms) if delta else "-",
                    f"{c.gateway_cpu_us:,.0f}",
                    _signed(delta.cpu_us, digits=0) if delta else "-",
                    f"{delta.cpu_ratio:.2f}x" if delta else "-",
                ]
            )
    return rows


THROUGHPUT_HEADERS = [
    "metering",
    "gw req/s",
    "vs off",
    "gw p50 ms",
    "gw p99 ms",
    "gw CPU share",
    "gw CPU µs/req",
    "Δ CPU µs vs off",
    "gw req/s per CPU-second",
]


def throughput_rows(report: Report) -> list[list[str]]:
    rows = []
    for mode in modes(report):
        t = mode.throughput
        if t is None:
            continue
        delta = mode.deltas.get(f"throughput c={t.concurrency}")
        ratio = delta.rps_ratio if delta else None
        rows.append(
            [
                mode.metering,
                f"{t.gateway_rps:,.0f}",
                f"{ratio:.2f}x" if ratio is not None else "-",
                f"{t.gateway_latency.p50:.2f}",
                f"{t.gateway_latency.p99:.2f}",
                f"{t.gateway_cpu_share:.0%}",
                f"{t.gateway_cpu_us:,.0f}",
                _signed(delta.cpu_us, digits=0) if delta else "-",
                f"{1e6 / t.gateway_cpu_us:,.0f}" if t.gateway_cpu_us > 0 else "-",
            ]
        )
    return rows


def timing_rows(report: Report) -> tuple[list[str], list[list[str]]]:
    """Mean Server-Timing per stage (exclusive ms) for each phase and metering mode."""
    columns: list[tuple[str, str, dict[str, float]]] = []
    for mode in modes(report):
        columns += [(phase_name(c), mode.metering, c.server_timing) for c in mode.cells]
        if mode.throughput is not None:
            t = mode.throughput
            columns.append((f"throughput c={t.concurrency}", mode.metering, t.server_timing))
    columns.sort(key=lambda column: column[0])  # stable: modes stay in order within a phase
    seen = dict.fromkeys(name for _, _, timing in columns for name in timing)
    stages = [s for s in STAGES if s in seen] + [s for s in seen if s not in STAGES]
    rows = [
        [phase, metering, *(f"{timing.get(stage, 0.0):.3f}" for stage in stages)]
        for phase, metering, timing in columns
    ]
    return ["phase", "metering", *stages], rows


def check_lines(report: Report) -> list[tuple[bool, str]]:
    return [(m.check.verified, m.check.describe()) for m in modes(report) if m.check is not None]
