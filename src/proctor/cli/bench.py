"""`proctor bench overhead` and `proctor bench throughput`: the gateway against a fast upstream."""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import Annotated

import msgspec
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from proctor.bench import report as report_mod
from proctor.bench.gateway import set_observability
from proctor.bench.metering import DEFAULT_REDIS_URL, MODES, Metering
from proctor.bench.procs import ChildFailed
from proctor.bench.runner import Options, Report, run

bench_app = typer.Typer(
    no_args_is_help=True,
    help="Measure the gateway's own cost against a fast local upstream (loopback only).",
)
console = Console(stderr=True)
DELAY_HELP = "upstream waits this long before answering (0: saturate at high concurrency)"
METERING_HELP = (
    "cost and limit stages of the gateway under test: off (as issue 2 measured), memory or "
    "redis (prices, budgets, rpm/tpm that never refuse, a virtual key, a user per request)"
)
COMPARE_HELP = "measure off, memory and redis in the same rounds and report the deltas"


class MeteringOption(StrEnum):
    off = "off"
    memory = "memory"
    redis = "redis"


MeteringArg = Annotated[MeteringOption, typer.Option(help=METERING_HELP)]
CompareArg = Annotated[bool, typer.Option("--compare-metering", help=COMPARE_HELP)]
RedisUrlArg = Annotated[str, typer.Option(help="Redis for --metering redis (own key prefix)")]


def _metering(metering: MeteringOption, compare_all: bool) -> tuple[Metering, ...]:
    if compare_all:
        if metering is not MeteringOption.off:
            raise typer.BadParameter("--compare-metering measures every mode; drop --metering")
        return MODES
    mode: Metering = metering.value
    return (mode,)


def _concurrency_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise typer.BadParameter("a comma-separated list of integers, e.g. 1,32") from None
    if not values or any(v < 1 for v in values):
        raise typer.BadParameter("concurrency values must be positive integers")
    return values


def _run(options: Options, *, latency: bool, capacity: bool) -> Report:
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("starting upstream, gateway, load generator", total=None)
        last_total = 0

        def update(done: int, total: int, fraction: float, label: str) -> None:
            nonlocal last_total
            if total != last_total:  # the throughput part restarts the count
                progress.reset(task, total=total)
                last_total = total
            progress.update(task, completed=done + fraction, description=label)

        try:
            return run(options, update, latency=latency, capacity=capacity)
        except ChildFailed as exc:
            progress.stop()
            console.print(f"[red]bench failed:[/red] {exc}")
            raise typer.Exit(1) from None


def _output(report: Report, as_json: bool, as_markdown: bool) -> None:
    if as_json:
        sys.stdout.write(msgspec.json.format(msgspec.json.encode(report)).decode() + "\n")
    elif as_markdown:
        sys.stdout.write(report_mod.markdown(report))
    else:
        out = Console()
        # Piped output would wrap the wide tables at 80 columns.
        report_mod.print_report(report, out if out.is_terminal else Console(width=160))


ObservabilityArg = Annotated[
    bool,
    typer.Option(
        help="trace spans and query topics in the gateway under test (metrics are always on)"
    ),
]


@bench_app.command()
def overhead(
    requests: Annotated[int, typer.Option(help="measured requests per phase")] = 2000,
    concurrency: Annotated[str, typer.Option(help="concurrency levels, comma-separated")] = "1,32",
    rounds: Annotated[int, typer.Option(help="direct/gateway rounds; medians are reported")] = 3,
    warmup: Annotated[int, typer.Option(help="discarded requests before each phase")] = 200,
    stream: Annotated[bool, typer.Option(help="also measure streaming")] = True,
    duration: Annotated[float, typer.Option(help="seconds per throughput phase")] = 4.0,
    throughput_concurrency: Annotated[int, typer.Option(help="workers for req/s")] = 64,
    throughput: Annotated[bool, typer.Option(help="also measure max req/s")] = True,
    pin: Annotated[bool, typer.Option(help="pin processes to CPUs (Linux)")] = True,
    upstream_delay_ms: Annotated[float, typer.Option(help=DELAY_HELP)] = 0.0,
    metering: MeteringArg = MeteringOption.off,
    compare_metering: CompareArg = False,
    redis_url: RedisUrlArg = DEFAULT_REDIS_URL,
    observability: ObservabilityArg = True,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    as_markdown: Annotated[bool, typer.Option("--markdown", help="Markdown tables")] = False,
) -> None:
    """Added latency (p50/p90/p99) of the gateway versus the upstream called directly, at
    each concurrency, streaming and not; then the max req/s of one gateway process."""
    if requests < 1 or rounds < 1 or duration <= 0 or throughput_concurrency < 1:
        raise typer.BadParameter("--requests, --rounds, --duration must be positive")
    options = Options(
        requests=requests,
        concurrency=_concurrency_list(concurrency),
        rounds=rounds,
        warmup=max(0, warmup),
        streaming=(False, True) if stream else (False,),
        duration_s=duration,
        throughput_concurrency=throughput_concurrency,
        pin=pin,
        upstream_delay_ms=max(0.0, upstream_delay_ms),
        metering=_metering(metering, compare_metering),
        redis_url=redis_url,
    )
    set_observability(observability)
    report = _run(options, latency=True, capacity=throughput)
    _output(report, as_json, as_markdown)


@bench_app.command("throughput")
def throughput_command(
    concurrency: Annotated[int, typer.Option(help="closed-loop workers")] = 64,
    duration: Annotated[float, typer.Option(help="seconds per phase")] = 5.0,
    rounds: Annotated[int, typer.Option(help="direct/gateway rounds; medians are reported")] = 3,
    pin: Annotated[bool, typer.Option(help="pin processes to CPUs (Linux)")] = True,
    upstream_delay_ms: Annotated[float, typer.Option(help=DELAY_HELP)] = 0.0,
    metering: MeteringArg = MeteringOption.off,
    compare_metering: CompareArg = False,
    redis_url: RedisUrlArg = DEFAULT_REDIS_URL,
    observability: ObservabilityArg = True,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    as_markdown: Annotated[bool, typer.Option("--markdown", help="Markdown tables")] = False,
) -> None:
    """Max non-streaming req/s of one gateway process, and of the upstream called directly."""
    if concurrency < 1 or rounds < 1 or duration <= 0:
        raise typer.BadParameter("--concurrency, --rounds, --duration must be positive")
    options = Options(
        rounds=rounds,
        duration_s=duration,
        throughput_concurrency=concurrency,
        throughput_rounds=rounds,
        pin=pin,
        upstream_delay_ms=max(0.0, upstream_delay_ms),
        metering=_metering(metering, compare_metering),
        redis_url=redis_url,
    )
    set_observability(observability)
    report = _run(options, latency=False, capacity=True)
    _output(report, as_json, as_markdown)
