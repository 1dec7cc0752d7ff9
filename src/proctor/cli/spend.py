"""`proctor spend`: the cost report, read straight from the configured request log."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import msgspec
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from proctor.cli.serve import resolve_config
from proctor.spend import DIMENSIONS, SpendParamError, SpendQuery, SpendReport, spend_query
from proctor.spend.params import BUCKETS, MAX_TOP, SINCE_HELP
from proctor.spend.report import Totals, spend_report
from proctor.store.base import SpendStore, open_store
from proctor.store.sqlite import path_of

errors = Console(stderr=True)


def _console() -> Console:
    # Rich falls back to 80 columns when output is piped or captured, which cuts a grouped
    # table to ellipses; a pipe has no width to respect, so give it room.
    console = Console()
    return console if console.is_terminal else Console(width=160)


def spend(
    by: Annotated[
        list[str] | None,
        typer.Option(help=f"group by, comma-separated: {', '.join(DIMENSIONS)}"),
    ] = None,
    since: Annotated[str, typer.Option(help=SINCE_HELP)] = "24h",
    top: Annotated[int, typer.Option(help=f"groups to show, by cost (1-{MAX_TOP})")] = 10,
    series: Annotated[
        str | None, typer.Option(help=f"also a time series by {', '.join(BUCKETS)}")
    ] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="proctor.yaml")] = None,
    json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Cost report: totals, top groups by cost, and optionally a time series."""
    try:
        # Repeating --by adds dimensions, as a comma-separated list does.
        query = spend_query(by=",".join(by or []), since=since, top=top, series=series)
    except SpendParamError as exc:
        raise typer.BadParameter(exc.message, param_hint=f"--{exc.param}") from None
    cfg, _ = resolve_config(config)
    _check_log_exists(cfg.store.url)
    report = asyncio.run(_report(cfg.store.url, query))
    if json:
        print(msgspec.json.encode(report).decode())
        return
    console = _console()
    _print_groups(console, report)
    if report.series_bucket is not None:
        _print_series(console, report)


def _check_log_exists(url: str) -> None:
    if not url.startswith("sqlite://"):
        return
    path = path_of(url)
    # Opening a store creates and migrates it; a report should not leave an empty log
    # behind at a mistyped path, so a missing file is an error instead.
    if path == ":memory:" or not Path(path).exists():
        errors.print(f"[red]no request log at {path}[/red] (store.url is {url})")
        raise typer.Exit(1)


async def _report(url: str, query: SpendQuery) -> SpendReport:
    store = open_store(url)
    if not isinstance(store, SpendStore):
        errors.print(f"[red]the store at {url} cannot answer spend reports[/red]")
        raise typer.Exit(1)
    await store.open()
    try:
        return await spend_report(store, query)
    finally:
        await store.close()


def _usd(value: float) -> str:
    return f"${value:,.2f}" if value >= 100 else f"${value:,.6f}"


def _per_1k(value: float | None) -> str:
    return "-" if value is None else _usd(value)


_METRICS = (
    *("requests", "errors", "prompt tok", "completion tok", "cached tok"),
    *("cost", "cost / 1k req", "no cost"),
)


def _cells(t: Totals) -> list[str]:
    return [
        f"{t.requests:,}",
        f"{t.errors:,}",
        f"{t.prompt_tokens:,}",
        f"{t.completion_tokens:,}",
        f"{t.cached_tokens:,}",
        _usd(t.cost_usd),
        _per_1k(t.cost_per_1k_requests),
        f"{t.unknown_cost_requests:,}",
    ]


def _label(report: SpendReport, text: str) -> list[str]:
    """A row label in the first dimension column (there is none without --by)."""
    return [text, *([""] * (len(report.by) - 1))] if report.by else []


def _print_groups(console: Console, report: SpendReport) -> None:
    table = Table(title=f"spend since {report.since_iso} ({report.window})")
    for name in report.by:
        table.add_column(name)
    for column in _METRICS:
        table.add_column(column, justify="right")
    for group in report.groups:
        # Tag values come from callers: escape them so they print as text, not as markup.
        keys = [escape(v) if v is not None else "[dim](none)[/dim]" for v in group.key.values()]
        table.add_row(*keys, *_cells(group))
    if report.other is not None:
        left_out = report.groups_total - len(report.groups)
        table.add_row(*_label(report, f"[dim]{left_out} more[/dim]"), *_cells(report.other))
    if report.by:
        table.add_section()
    table.add_row(*_label(report, "total"), *_cells(report.totals), style="bold")
    console.print(table)
    if report.totals.unknown_cost_requests:
        console.print(
            f"[yellow]{report.totals.unknown_cost_requests:,} request(s) have no known cost "
            "(no usage reported, or no price for the model): costs are a lower bound[/yellow]"
        )


def _print_series(console: Console, report: SpendReport) -> None:
    table = Table(title=f"per {report.series_bucket} (UTC)")
    table.add_column("from")
    for column in ("requests", "errors", "cost", "no cost"):
        table.add_column(column, justify="right")
    for bucket in report.series:
        table.add_row(
            bucket.start_iso,
            f"{bucket.requests:,}",
            f"{bucket.errors:,}",
            _usd(bucket.cost_usd),
            f"{bucket.unknown_cost_requests:,}",
        )
    console.print(table)
