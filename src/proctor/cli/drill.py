"""`proctor drill`: inject provider faults and report what survived."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import msgspec
import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from proctor.app import Gateway
from proctor.cli.serve import resolve_config
from proctor.config import Config
from proctor.drill.faults import (
    FAULTS,
    FaultResult,
    drill_config,
    models_with_fallbacks,
    run_samples,
    summarise,
)
from proctor.resilience.paths import DrillReport
from proctor.testing.upstream import FakeUpstream, closed_port_url

console = Console()


def drill(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="proctor.yaml")] = None,
    live: Annotated[
        bool, typer.Option(help="one tiny real request down every path, on the real providers")
    ] = False,
    requests: Annotated[int, typer.Option(help="requests per fault and mode")] = 50,
    model: Annotated[list[str] | None, typer.Option(help="drill only these models")] = None,
    fault: Annotated[
        list[str] | None, typer.Option(help=f"only these: {', '.join(FAULTS)}")
    ] = None,
    json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Failover drill: inject provider faults into every fallback chain, report what survived."""
    cfg, _ = resolve_config(config)
    if live:
        report = asyncio.run(_live(cfg))
        _print_live(report, json)
        raise typer.Exit(0 if report.ok else 1)
    models = model or models_with_fallbacks(cfg)
    if not models:
        console.print("[yellow]no model has fallbacks configured: nothing to drill[/yellow]")
        raise typer.Exit(1)
    faults = fault or list(FAULTS)
    unknown = sorted(set(faults) - set(FAULTS))
    if unknown:
        raise typer.BadParameter(f"unknown fault(s): {', '.join(unknown)}", param_hint="--fault")
    results = asyncio.run(_offline(cfg, models, faults, requests, quiet=json))
    if json:
        print(msgspec.json.encode(results).decode())
    else:
        _print_table(results)
    survived = all(r.succeeded == r.requests for r in results)
    raise typer.Exit(0 if survived else 1)


async def _live(config: Config) -> DrillReport:
    async with Gateway(config) as gateway:
        return await gateway.drill()


async def _offline(
    config: Config, models: list[str], faults: list[str], requests: int, *, quiet: bool
) -> list[FaultResult]:
    results: list[FaultResult] = []
    total = len(models) * (len(faults) + 1) * 2 * requests
    with FakeUpstream() as fake, Progress(console=console, disable=quiet) as progress:
        task = progress.add_task("drilling", total=total)

        def tick() -> None:
            progress.advance(task)

        refused = closed_port_url()
        for name in models:
            for stream in (False, True):
                healthy = drill_config(config, name, "", fake.url, refused)
                baseline = await run_samples(healthy, name, requests, stream, tick)
                for kind in faults:
                    faulty = drill_config(config, name, FAULTS[kind], fake.url, refused)
                    samples = await run_samples(faulty, name, requests, stream, tick)
                    results.append(summarise(name, kind, stream, samples, baseline))
    return results


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:+.2f}"


def _print_table(results: list[FaultResult]) -> None:
    table = Table(title="failover drill (fake upstream, real adapters)")
    for column in ("model", "fault", "mode", "requests", "succeeded", "answered by"):
        table.add_column(column)
    for column in ("added p50 ms", "added p99 ms", "breaker open", "open +p50", "open +p99"):
        table.add_column(column, justify="right")
    for r in results:
        via = ", ".join(f"{k}:{v}" for k, v in sorted(r.via.items()))
        style = "green" if r.succeeded == r.requests else "red"
        table.add_row(
            r.model,
            r.fault,
            "stream" if r.stream else "json",
            str(r.requests),
            f"[{style}]{r.succeeded}[/{style}]",
            via,
            _ms(r.added_p50_ms),
            _ms(r.added_p99_ms),
            str(r.open_requests),
            _ms(r.open_added_p50_ms),
            _ms(r.open_added_p99_ms),
        )
    console.print(table)


def _print_live(report: DrillReport, as_json: bool) -> None:
    if as_json:
        print(msgspec.json.encode(report).decode())
        return
    table = Table(title="live drill: one tiny request per path")
    for column in ("model", "step", "deployment", "ok", "latency ms", "served / error"):
        table.add_column(column)
    for r in report.results:
        ok = "[green]yes[/green]" if r.ok else "[red]no[/red]"
        table.add_row(
            r.model,
            str(r.position),
            r.deployment,
            ok,
            f"{r.latency_ms:.0f}",
            r.served_model or r.error or "",
        )
    console.print(table)
