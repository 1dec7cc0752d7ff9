"""`proctor review list/show/approve/reject`: the human review queue, read and decided
straight in the configured store.

The gateway holding a request polls the store every `guards.review.poll_s` while it holds
any, so a decision made here reaches it within that time; the CLI needs no connection to it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import getpass
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import msgspec
import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from proctor.cli.serve import resolve_config
from proctor.config.guard_ops import Decision
from proctor.guards.review.item import (
    STATUSES,
    ReviewConflict,
    ReviewItem,
    ReviewNotFound,
    Status,
)
from proctor.guards.review.queue import operator_tag
from proctor.store.base import open_store
from proctor.store.review import ReviewStore

T = TypeVar("T")

review_app = typer.Typer(
    no_args_is_help=True,
    help="Human review queue: requests held by a guard until someone approves or rejects them.",
)
console = Console()
errors = Console(stderr=True)

ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="proctor.yaml")]
JsonOption = Annotated[bool, typer.Option("--json", help="machine-readable output")]
IdArgument = Annotated[str, typer.Argument(help="the review item's id (rev_...)")]
ReasonOption = Annotated[str | None, typer.Option(help="why (kept with the decision)")]
ByOption = Annotated[
    str | None, typer.Option("--by", help="who decides (default: your login name)")
]


def _fail(message: str, code: int) -> typer.Exit:
    errors.print(f"[red]error:[/red] {escape(message)}", highlight=False)
    return typer.Exit(code)


def _with_store(config: Path | None, action: Callable[[ReviewStore], Awaitable[T]]) -> T:
    cfg, _ = resolve_config(config)
    try:
        store = open_store(cfg.store.url)
    except ValueError as exc:
        raise _fail(f"store.url: {exc}", 2) from None
    if not isinstance(store, ReviewStore):
        raise _fail("the configured store keeps no review queue", 2)
    review_store = store

    async def run() -> T:
        await store.open()
        try:
            return await action(review_store)
        finally:
            await store.close()

    return asyncio.run(run())


def _when(at: float | None) -> str:
    if at is None:
        return "-"
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _span(seconds: float) -> str:
    """A short duration: 45s, 12m, 3h, 2d."""
    seconds = max(0.0, seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def _print_json(value: object) -> None:
    print(msgspec.json.encode(value).decode())


_COLOURS = {"pending": "yellow", "approved": "green", "rejected": "red", "expired": "dim"}


def _status(item: ReviewItem) -> str:
    return f"[{_COLOURS[item.status]}]{item.status}[/]"


@review_app.command("list")
def list_(
    status: Annotated[
        str, typer.Option(help="pending, approved, rejected, expired, or all")
    ] = "pending",
    limit: Annotated[int, typer.Option(min=1, max=1000, help="at most this many")] = 50,
    config: ConfigOption = None,
    json: JsonOption = False,
) -> None:
    """List review items, newest first (pending ones by default)."""
    wanted: Status | None = None
    if status in STATUSES:
        wanted = status
    elif status != "all":
        raise _fail(f"--status must be one of {', '.join(STATUSES)} or all", 2)
    items = _with_store(config, lambda store: store.list_reviews(wanted, limit))
    if json:
        _print_json([item.public() for item in items])
        return
    table = Table(
        title=f"review items: {status} ({len(items)})",
        caption="age: since held; left: until the default decision applies",
        box=box.SIMPLE_HEAD,
    )
    # The stage, caller and findings are in `show`: the list fits 80 columns.
    for column in ("id", "status", "rules", "feature / model", "age", "left"):
        table.add_column(column, no_wrap=column in ("id", "status", "age", "left"))
    now = time.time()
    for item in items:
        where = f"{item.feature or '-'} / {item.model or '-'}"
        left = _span(item.expires_at - now) if item.status == "pending" else "-"
        table.add_row(
            escape(item.id),
            _status(item),
            escape(", ".join(item.rules)),
            escape(where),
            _span(now - item.created_at),
            left,
        )
    console.print(table)


@review_app.command()
def show(item_id: IdArgument, config: ConfigOption = None, json: JsonOption = False) -> None:
    """Show one item: who, why, the redacted text, and the decision if there is one."""
    item = _with_store(config, lambda store: store.get_review(item_id))
    if item is None:
        raise _fail(f"no review item {item_id!r}", 1)
    if json:
        _print_json(item.public())
        return
    _show(item)


def _show(item: ReviewItem) -> None:
    # Every value is user or model text: escaped, so "[red]" in it is shown, not obeyed.
    lines = [
        f"[bold]{escape(item.id)}[/bold]  {_status(item)}",
        f"request   {escape(item.request_id)} ({item.stage})",
        f"rules     {escape(', '.join(item.rules))}",
        f"feature   {escape(item.feature or '-')}   model {escape(item.model or '-')}",
        f"caller    key {escape(item.key_id or '-')}, user {escape(item.user or '-')}, "
        f"tenant {escape(item.tenant or '-')}",
        f"created   {_when(item.created_at)}   expires {_when(item.expires_at)} "
        f"(then: {item.default_decision})",
    ]
    if item.decided_at is not None:
        reason = f": {escape(item.reason)}" if item.reason else ""
        lines.append(
            f"decided   {item.decision} by {escape(item.decided_by or '-')} "
            f"at {_when(item.decided_at)}{reason}"
        )
    for finding in item.findings:
        lines.append(
            f"finding   {escape(finding.kind)}/{escape(finding.type)} "
            f"[{finding.start}:{finding.end}] score {finding.score:.2f}"
        )
    console.print("\n".join(lines), highlight=False)
    console.print("[dim]--- held text (redacted) ---[/dim]")
    console.print(escape(item.preview), highlight=False, markup=True)


def _decide(
    item_id: str,
    decision: Decision,
    reason: str | None,
    by: str | None,
    config: Path | None,
    json: bool,
) -> None:
    """Record the decision in the store (the gateway holding the request polls for it) and
    say what was decided."""
    who = by if by is not None else getpass.getuser()
    status: Status = "approved" if decision == "approve" else "rejected"
    try:
        item = _with_store(
            config,
            lambda store: store.decide_review(
                item_id, status=status, decision=decision, by=operator_tag(who), reason=reason
            ),
        )
    except (ReviewNotFound, ReviewConflict) as exc:
        raise _fail(str(exc), 1) from None
    if json:
        _print_json(item.public())
    else:
        console.print(f"{status} [bold]{escape(item.id)}[/bold]", highlight=False)


@review_app.command()
def approve(
    item_id: IdArgument,
    reason: ReasonOption = None,
    by: ByOption = None,
    config: ConfigOption = None,
    json: JsonOption = False,
) -> None:
    """Let the held request go on."""
    _decide(item_id, "approve", reason, by, config, json)


@review_app.command()
def reject(
    item_id: IdArgument,
    reason: ReasonOption = None,
    by: ByOption = None,
    config: ConfigOption = None,
    json: JsonOption = False,
) -> None:
    """Refuse the held request (the caller gets the guard's block answer)."""
    _decide(item_id, "reject", reason, by, config, json)
