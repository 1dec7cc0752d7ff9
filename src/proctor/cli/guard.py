"""`proctor guard scan`: run the configured guards over a text read from stdin."""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path
from typing import Annotated

import msgspec
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from proctor.cli.serve import resolve_config
from proctor.guards.inputs import detect
from proctor.guards.leak import detect_prompt_leak
from proctor.guards.policy import Check, GuardPolicy

guard_app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Guardrails: run the configured guards over a text (`scan`).",
)


class ScanFinding(msgspec.Struct):
    kind: str
    type: str
    start: int
    end: int
    score: float
    action: str


def scan_text(text: str, checks: list[Check], errors: list[tuple[str, str]]) -> list[ScanFinding]:
    """Every check over the whole text as given (nothing stripped or redacted first, so
    every offset is into `text`), in the order the plan runs them; a detector that fails
    is named in `errors`."""
    found: list[ScanFinding] = []
    seen: set[str] = set()
    for check in checks:
        # A rule may compile to several checks over different parts of a conversation
        # (injection: prompts, and documents or tool results); stdin is one text.
        if check.rule in seen:
            continue
        seen.add(check.rule)
        detections = detect(check, text, errors)
        found.extend(
            ScanFinding(d.kind, d.type, d.start, d.end, round(d.score, 4), check.action)
            for d in detections
        )
    return found


def scan(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="proctor.yaml")] = None,
    output: Annotated[
        bool, typer.Option("--output", help="apply the output guards (to a model's reply)")
    ] = False,
    json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    feature: Annotated[
        str | None, typer.Option(help="apply this feature's overrides (guards.features)")
    ] = None,
    fail_on_block: Annotated[
        bool, typer.Option("--fail-on-block", help="exit 1 when a finding's action is block")
    ] = False,
    system: Annotated[
        str | None,
        typer.Option(help="with --output: the system prompt the reply must not leak"),
    ] = None,
) -> None:
    """Read a text from stdin and print what the input (or --output) guards find in it."""
    cfg, _ = resolve_config(config)
    plan = GuardPolicy(cfg.guards).plan_for(feature)
    checks = list(plan.output) if output else [*plan.checks, *plan.parallel]
    if output and system and plan.leak is not None:
        leak = partial(detect_prompt_leak, system_prompt=system, canary=None)
        checks.append(Check("leak", plan.leak.action, leak))
    text = sys.stdin.read()
    errors: list[tuple[str, str]] = []
    findings = scan_text(text, checks, errors)
    for rule, problem in errors:
        Console(stderr=True).print(
            f"[yellow]the guard {rule} failed ({escape(problem)}); its findings are missing"
        )
    if json:
        print(msgspec.json.encode({"findings": findings}).decode())
    else:
        _print(findings, "output" if output else "input")
    if fail_on_block and any(f.action == "block" for f in findings):
        raise typer.Exit(1)


def _print(findings: list[ScanFinding], side: str) -> None:
    console = Console()
    if not findings:
        console.print(f"no findings ({side} guards)")
        return
    table = Table(title=f"{len(findings)} findings ({side} guards)")
    for column in ("kind", "type", "start", "end", "score", "action"):
        table.add_column(column, justify="right" if column in ("start", "end", "score") else "left")
    for f in findings:
        table.add_row(f.kind, escape(f.type), str(f.start), str(f.end), f"{f.score:.2f}", f.action)
    console.print(table)


guard_app.command()(scan)
