"""`proctor alerts list|test`: the configured alert rules, and a sample alert to every sink."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import msgspec
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from proctor.alerts import Delivery, Dispatcher, Rule, sample_alert
from proctor.cli.serve import resolve_config
from proctor.config import AlertsConfig, LogSinkConfig, duration_s
from proctor.config.alerts import AlertSinkConfig, describe_duration

alerts_app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="Alert rules and where alerts go."
)

ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="proctor.yaml")]
JsonOption = Annotated[bool, typer.Option("--json", help="machine-readable output")]


def _console() -> Console:
    console = Console()
    return console if console.is_terminal else Console(width=160)


def _where(sink: AlertSinkConfig) -> str:
    """Scheme and host only: webhook paths (Slack's above all) are secrets."""
    if isinstance(sink, LogSinkConfig):
        return f"log ({sink.level})"
    parts = urlsplit(sink.url)
    return f"{parts.scheme}://{parts.netloc}/…" if parts.path not in ("", "/") else sink.url


def _rules(alerts: AlertsConfig) -> list[Rule]:
    cooldown = duration_s(alerts.cooldown)
    return [Rule.compile(rule, cooldown) for rule in alerts.rules]


def _rule_row(rule: Rule) -> dict[str, Any]:
    return {
        "name": rule.name,
        "kind": "event" if rule.event is not None else "metric",
        "watches": rule.event if rule.event is not None else rule.metric,
        "condition": rule.condition(),
        "window": None if rule.event is not None else describe_duration(rule.window_s),
        "scope": None if rule.event is not None else rule.scope_text(),
        "min_requests": rule.min_requests,
        "cooldown": describe_duration(rule.cooldown_s),
        "severity": rule.severity,
        "sinks": list(rule.sinks) or ["all"],
    }


@alerts_app.command("list")
def list_rules(config: ConfigOption = None, json: JsonOption = False) -> None:
    """Print the alert rules and sinks."""
    cfg, _ = resolve_config(config)
    alerts = cfg.alerts
    rows = [_rule_row(rule) for rule in _rules(alerts)]
    sinks = alerts.sinks or [LogSinkConfig()]
    if json:
        body = {
            "enabled": alerts.enabled,
            "rules": rows,
            "sinks": [{"name": s.label, "type": _kind(s), "target": _where(s)} for s in sinks],
        }
        print(msgspec.json.encode(body).decode())
        return
    console = _console()
    if not alerts.enabled:
        console.print("[yellow]alerts are disabled (alerts.enabled: false)[/yellow]")
    if not rows:
        console.print("no alert rules configured (add them under `alerts.rules`)")
    else:
        table = Table(title="alert rules")
        columns = ("name", "watches", "condition", "window", "scope", "cooldown", "severity")
        for column in (*columns, "sinks"):
            table.add_column(column)
        for row in rows:
            cells = [escape(str(row[c])) if row[c] is not None else "-" for c in columns]
            table.add_row(*cells, escape(", ".join(row["sinks"])))
        console.print(table)
    table = Table(title="sinks" if alerts.sinks else "sinks (none configured: the log)")
    for column in ("name", "type", "target"):
        table.add_column(column)
    for sink in sinks:
        table.add_row(escape(sink.label), _kind(sink), escape(_where(sink)))
    console.print(table)


def _kind(sink: AlertSinkConfig) -> str:
    tag = sink.__struct_config__.tag
    return tag if isinstance(tag, str) else "?"


@alerts_app.command("test")
def send_test(
    config: ConfigOption = None,
    rule: Annotated[
        str | None,
        typer.Option(help="shape the sample like this rule's alerts, sent to its sinks"),
    ] = None,
    json: JsonOption = False,
) -> None:
    """Send a sample alert through every configured sink and print what each one answered."""
    cfg, _ = resolve_config(config)
    chosen: Rule | None = None
    if rule is not None:
        by_name = {r.name: r for r in _rules(cfg.alerts)}
        if rule not in by_name:
            known = ", ".join(by_name) or "none configured"
            raise typer.BadParameter(f"no rule named {rule!r} ({known})", param_hint="--rule")
        chosen = by_name[rule]
    deliveries = asyncio.run(_send_sample(cfg.alerts, chosen))
    if json:
        print(msgspec.json.encode(deliveries).decode())
    else:
        _print_deliveries(deliveries)
    raise typer.Exit(0 if all(d.ok for d in deliveries) else 1)


async def _send_sample(alerts: AlertsConfig, rule: Rule | None) -> list[Delivery]:
    dispatcher = Dispatcher(alerts.sinks or [LogSinkConfig()], alerts.max_pending)
    alert = sample_alert(rule, time.time())
    targets = dispatcher.targets(rule.sinks if rule is not None else ())
    try:
        return list(await asyncio.gather(*(dispatcher.send(sink, alert) for sink in targets)))
    finally:
        await dispatcher.close()


def _print_deliveries(deliveries: list[Delivery]) -> None:
    table = Table(title="sample alert")
    for column in ("sink", "type", "ok", "status", "attempts", "ms", "answer"):
        table.add_column(column)
    for d in deliveries:
        ok = "[green]yes[/green]" if d.ok else "[red]no[/red]"
        said = d.answer.strip() if d.ok or not d.error else f"{d.error} {d.answer.strip()}"
        table.add_row(
            escape(d.sink),
            d.kind,
            ok,
            str(d.status) if d.status is not None else "-",
            str(d.attempts),
            f"{d.elapsed_ms:.0f}",
            escape(said[:200]),
        )
    _console().print(table)
