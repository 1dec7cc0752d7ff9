"""Reading a bench Report: rich tables for the terminal, Markdown for docs/BENCHMARKS.md,
and the issue's targets checked against the figures."""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from proctor.bench import compare
from proctor.bench.load import Summary
from proctor.bench.results import Cell, Report, Throughput

SHARED_CPUS_NOTE = (
    "The load generator, the upstream and the gateway run on the same machine and share its "
    "CPUs; on 2 cores the figures include that contention, for the direct path as for the "
    "gateway path. At concurrency > 1 the loop is closed, so latency includes queueing in "
    "whichever process is saturated."
)


@dataclass(frozen=True)
class Target:
    name: str
    value: float
    limit: float
    unit: str

    @property
    def met(self) -> bool:
        return self.value <= self.limit if self.unit == "ms" else self.value >= self.limit

    def describe(self) -> str:
        sign = "<=" if self.unit == "ms" else ">="
        return f"{self.name}: {self.value:,.2f} {self.unit} (target {sign} {self.limit:,g})"


def targets_of(cells: list[Cell], throughput: Throughput | None, tag: str = "") -> list[Target]:
    """The issue's targets: added p50 <= 1 ms and p99 <= 5 ms at c=32; >= 1,500 req/s."""
    found: list[Target] = []
    for cell in cells:
        if cell.concurrency == 32:
            kind = "stream" if cell.stream else "non-stream"
            found.append(Target(f"{tag}added p50, {kind}, c=32", cell.added.p50, 1.0, "ms"))
            found.append(Target(f"{tag}added p99, {kind}, c=32", cell.added.p99, 5.0, "ms"))
    if throughput is not None:
        name = f"{tag}gateway throughput, non-stream"
        found.append(Target(name, throughput.gateway_rps, 1500, "req/s"))
    return found


def targets(report: Report) -> list[Target]:
    """The targets for every gateway of the run (tagged with its metering when compared)."""
    if not report.compare:
        return targets_of(report.cells, report.throughput)
    return [
        target
        for mode in compare.modes(report)
        for target in targets_of(mode.cells, mode.throughput, f"metering {mode.metering}, ")
    ]


def _ms(value: float) -> str:
    return f"{value:.2f}"


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b > 0 else "-"


def _mode(cell: Cell) -> str:
    return "stream" if cell.stream else "non-stream"


def _triple(s: Summary | None) -> list[str]:
    return [_ms(s.p50), _ms(s.p90), _ms(s.p99)] if s else ["-", "-", "-"]


def latency_rows(report: Report) -> list[list[str]]:
    rows = []
    for c in report.cells:
        rows.append(
            [
                _mode(c),
                str(c.concurrency),
                *_triple(c.direct),
                *_triple(c.gateway),
                *_triple(c.added),
                _ratio(c.gateway.p50, c.direct.p50),
                f"{c.direct_rps:,.0f}",
                f"{c.gateway_rps:,.0f}",
            ]
        )
    return rows


LATENCY_HEADERS = [
    "mode",
    "conc",
    "direct p50",
    "direct p90",
    "direct p99",
    "gw p50",
    "gw p90",
    "gw p99",
    "added p50",
    "added p90",
    "added p99",
    "gw/direct p50",
    "direct req/s",
    "gw req/s",
]
TTFB_HEADERS = ["conc", "direct p50", "direct p99", "gw p50", "gw p99", "added p50", "added p99"]


def ttfb_rows(report: Report) -> list[list[str]]:
    rows = []
    for c in report.cells:
        if c.direct_ttfb and c.gateway_ttfb and c.added_ttfb:
            rows.append(
                [
                    str(c.concurrency),
                    _ms(c.direct_ttfb.p50),
                    _ms(c.direct_ttfb.p99),
                    _ms(c.gateway_ttfb.p50),
                    _ms(c.gateway_ttfb.p99),
                    _ms(c.added_ttfb.p50),
                    _ms(c.added_ttfb.p99),
                ]
            )
    return rows


def timing_table(report: Report) -> tuple[list[str], list[list[str]]]:
    """Mean Server-Timing per stage (exclusive ms), one column per measured cell."""
    columns: list[tuple[str, dict[str, float]]] = [
        (f"{_mode(c)} c={c.concurrency}", c.server_timing) for c in report.cells
    ]
    if report.throughput is not None:
        t = report.throughput
        columns.append((f"throughput c={t.concurrency}", t.server_timing))
    stages = list(dict.fromkeys(name for _, timing in columns for name in timing))
    rows = [
        [stage, *(f"{timing.get(stage, 0.0):.3f}" for _, timing in columns)] for stage in stages
    ]
    return ["stage", *(name for name, _ in columns)], rows


CPU_HEADERS = ["phase", "upstream CPU µs/req", "gateway CPU µs/req", "gw req/s per CPU-second"]


def cpu_rows(report: Report) -> list[list[str]]:
    """CPU per request of each server process: steadier than req/s on a busy machine."""
    phases: list[tuple[str, float, float]] = [
        (f"{_mode(c)} c={c.concurrency}", c.upstream_cpu_us, c.gateway_cpu_us) for c in report.cells
    ]
    if report.throughput is not None:
        t = report.throughput
        phases.append((f"throughput c={t.concurrency}", t.upstream_cpu_us, t.gateway_cpu_us))
    # A phase shorter than a few clock ticks (10 ms) may read as 0: shown as "-".
    rows = []
    for name, up, gw in phases:
        per_cpu = f"{1e6 / gw:,.0f}" if gw > 0 else "-"
        rows.append(
            [name, f"{up:,.0f}" if up > 0 else "-", f"{gw:,.0f}" if gw > 0 else "-", per_cpu]
        )
    return rows


def throughput_rows(report: Report) -> list[list[str]]:
    t = report.throughput
    if t is None:
        return []
    return [
        [
            str(t.concurrency),
            f"{t.duration_s:g} s",
            f"{t.direct_rps:,.0f}",
            f"{t.gateway_rps:,.0f}",
            _ratio(t.gateway_rps, t.direct_rps),
            _ms(t.gateway_latency.p50),
            _ms(t.gateway_latency.p99),
            f"{t.gateway_cpu_share:.0%}",
            f"{1e6 / t.gateway_cpu_us:,.0f}" if t.gateway_cpu_us > 0 else "-",
        ]
    ]


THROUGHPUT_HEADERS = [
    "conc",
    "duration",
    "direct req/s",
    "gw req/s",
    "gw/direct",
    "gw p50 ms",
    "gw p99 ms",
    "gw CPU share",
    "gw req/s per CPU-second",
]


def _table(title: str, headers: list[str], rows: list[list[str]]) -> Table:
    table = Table(title=title, title_justify="left")
    for i, header in enumerate(headers):
        table.add_column(header, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*row)
    return table


def print_report(report: Report, console: Console) -> None:
    m = report.machine
    console.print(f"[bold]proctor bench[/bold]  {m.date}  `{report.command}`")
    console.print(f"machine: {m.cpus} CPUs ({m.cpu_model}), {m.python}, {m.platform}")
    console.print(f"placement: {m.placement}")
    console.print(f"load average (1 min): {m.load_before:.2f} before, {m.load_after:.2f} after")
    console.print(f"provider: {m.provider}; request log {m.request_log}")
    delay = report.upstream_delay_ms
    console.print(f"upstream answers after {delay:g} ms" if delay else "upstream answers at once")
    console.print(f"metering: {metering_setup(report)}")
    if report.compare:
        _print_compare(report, console)
    else:
        _print_tables(report, console)
    for ok, line in compare.check_lines(report):
        console.print(f"{'[green]verified[/green]' if ok else '[red]NOT verified[/red]'}: {line}")
    for target in targets(report):
        mark = "[green]met[/green]" if target.met else "[red]NOT met[/red]"
        console.print(f"target {mark}: {target.describe()}")
    errors = sum(c.errors for m in compare.modes(report) for c in m.cells)
    errors += sum(m.throughput.errors for m in compare.modes(report) if m.throughput)
    if errors:
        console.print(f"[red]{errors} requests failed during the run[/red]")
    console.print(f"[dim]{SHARED_CPUS_NOTE}[/dim]")


def metering_setup(report: Report) -> str:
    names = [m.metering for m in compare.modes(report)]
    text = ", ".join(names) + (" (compared in the same rounds)" if len(names) > 1 else "")
    if names != ["off"]:
        text += (
            "; metered: price for the bench model, global daily + per-user budgets, per-user "
            "rpm/tpm (limits never reached), a virtual key and a `user` on every request"
        )
    if report.machine.redis:
        text += f"; {report.machine.redis}"
    return text


def _print_compare(report: Report, console: Console) -> None:
    title = f"Added latency and gateway CPU by metering (median of {report.rounds} rounds), ms"
    console.print(_table(title, compare.LATENCY_HEADERS, compare.latency_rows(report)))
    rows = compare.throughput_rows(report)
    if rows:
        title = "Throughput by metering, non-stream, one gateway process"
        console.print(_table(title, compare.THROUGHPUT_HEADERS, rows))
    headers, rows = compare.timing_rows(report)
    if rows:
        title = "Mean Server-Timing per stage (exclusive ms) by metering"
        console.print(_table(title, headers, rows))


def _print_tables(report: Report, console: Console) -> None:
    if report.cells:
        title = f"Latency, ms (median of {report.rounds} rounds; added = gateway - direct)"
        console.print(_table(title, LATENCY_HEADERS, latency_rows(report)))
        ttfb = ttfb_rows(report)
        if ttfb:
            console.print(_table("Streams: time to first byte, ms", TTFB_HEADERS, ttfb))
    if report.throughput is not None:
        title = "Throughput, non-stream, one gateway process (median of rounds)"
        console.print(_table(title, THROUGHPUT_HEADERS, throughput_rows(report)))
    cpu = cpu_rows(report)
    if cpu:
        title = "CPU time per request of each process (user + system, all threads)"
        console.print(_table(title, CPU_HEADERS, cpu))
    headers, rows = timing_table(report)
    if rows:
        title = "Where the gateway's time goes: mean Server-Timing per stage, ms"
        console.print(_table(title, headers, rows))
        console.print(
            "[dim]`total` runs from the parsed request to the response headers (for a stream, "
            "to its first chunk); `call` includes the upstream round trip. HTTP parsing and "
            "response writing are outside `total`.[/dim]"
        )
    t = report.throughput
    if t is not None and t.gateway_cpu_share < 0.9:
        console.print(
            f"[yellow]The saturated gateway got only {t.gateway_cpu_share:.0%} of its CPU: "
            "other processes ran on it. Its CPU time per request "
            f"({t.gateway_cpu_us:,.0f} µs, i.e. {1e6 / max(t.gateway_cpu_us, 1e-9):,.0f} req/s "
            "per CPU-second) is the steadier capacity figure.[/yellow]"
        )


def _md(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def markdown(report: Report) -> str:
    """The tables as Markdown, for docs/BENCHMARKS.md."""
    parts = [f"Metering: {metering_setup(report)}."]
    if report.compare:
        parts.append(_md(compare.LATENCY_HEADERS, compare.latency_rows(report)))
        if compare.throughput_rows(report):
            parts.append(_md(compare.THROUGHPUT_HEADERS, compare.throughput_rows(report)))
        parts.append(_md(*compare.timing_rows(report)))
    else:
        parts += _markdown_tables(report)
    checks = compare.check_lines(report)
    parts.append("\n".join(f"- {'verified' if ok else 'NOT verified'}: {t}" for ok, t in checks))
    parts.append(
        "\n".join(f"- {'met' if t.met else 'NOT met'}: {t.describe()}" for t in targets(report))
    )
    return "\n\n".join(parts) + "\n"


def _markdown_tables(report: Report) -> list[str]:
    parts = []
    if report.cells:
        parts.append(_md(LATENCY_HEADERS, latency_rows(report)))
        ttfb = ttfb_rows(report)
        if ttfb:
            parts.append(_md(TTFB_HEADERS, ttfb))
    if report.throughput is not None:
        parts.append(_md(THROUGHPUT_HEADERS, throughput_rows(report)))
    if cpu_rows(report):
        parts.append(_md(CPU_HEADERS, cpu_rows(report)))
    headers, rows = timing_table(report)
    if rows:
        parts.append(_md(headers, rows))
    return parts
