"""`proctor keys create/list/revoke`: virtual keys, written straight to the configured store.

A running gateway sees the change within `keys.refresh_s` (it re-reads the keys table), so
the CLI needs no connection to it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
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
from proctor.keys import AmbiguousKey, KeyNotFound, KeyRecord, KeySpec, KeySpecError, check
from proctor.keys import issue as issue_key
from proctor.store.base import KeyStore, open_store

T = TypeVar("T")

keys_app = typer.Typer(
    no_args_is_help=True,
    help="Virtual keys: tenant, team, user, budget and limits per key.",
)
console = Console()
errors = Console(stderr=True)

ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="proctor.yaml")]
JsonOption = Annotated[bool, typer.Option("--json", help="machine-readable output")]

# KeySpec field -> the option that sets it, so a rejection points at what the user typed.
_OPTIONS = {
    "name": "--name",
    "tenant": "--tenant",
    "team": "--team",
    "user": "--user",
    "budget_usd": "--budget-usd",
    "budget_period": "--period",
    "rpm": "--rpm",
    "tpm": "--tpm",
    "models": "--model",
    "metadata": "--meta",
}


def _fail(message: str, code: int) -> typer.Exit:
    errors.print(f"[red]error:[/red] {escape(message)}", highlight=False)
    return typer.Exit(code)


def _with_store(config: Path | None, action: Callable[[KeyStore], Awaitable[T]]) -> T:
    cfg, _ = resolve_config(config)
    try:
        store = open_store(cfg.store.url)
    except ValueError as exc:
        raise _fail(f"store.url: {exc}", 2) from None

    async def run() -> T:
        await store.open()
        try:
            return await action(store)
        finally:
            await store.close()

    return asyncio.run(run())


def _metadata(pairs: list[str]) -> dict[str, str]:
    metadata: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise _fail(f"--meta takes KEY=VALUE (got {pair!r})", 2)
        metadata[key.strip()] = value
    return metadata


@keys_app.command()
def create(
    name: Annotated[str, typer.Option("--name", help="what the key is for (shown in lists)")],
    tenant: Annotated[
        str | None, typer.Option(help="tenant the key's spend is attributed to")
    ] = None,
    team: Annotated[str | None, typer.Option(help="team the key's spend is attributed to")] = None,
    user: Annotated[str | None, typer.Option(help="user the key belongs to")] = None,
    budget_usd: Annotated[
        float | None, typer.Option("--budget-usd", help="hard spending cap in USD per period")
    ] = None,
    period: Annotated[
        str, typer.Option(help="budget period: minute, hour, day, month, total")
    ] = "month",
    rpm: Annotated[int | None, typer.Option(help="requests per minute")] = None,
    tpm: Annotated[int | None, typer.Option(help="tokens per minute")] = None,
    model: Annotated[
        list[str] | None, typer.Option("--model", help="allowed model (repeat; default all)")
    ] = None,
    meta: Annotated[list[str] | None, typer.Option(help="KEY=VALUE metadata (repeat)")] = None,
    config: ConfigOption = None,
    json: JsonOption = False,
) -> None:
    """Create a key and print its secret, once: only its hash is stored."""
    spec = KeySpec(
        name=name,
        tenant=tenant,
        team=team,
        user=user,
        budget_usd=budget_usd,
        budget_period=period,  # type: ignore[arg-type]  # checked just below
        rpm=rpm,
        tpm=tpm,
        models=tuple(model) if model else None,
        metadata=_metadata(meta or []),
    )
    try:
        spec = check(spec)
    except KeySpecError as exc:
        option = _OPTIONS.get(exc.field or "", exc.field or "")
        raise _fail(exc.message.replace(f"`{exc.field}`", option), 2) from None
    record, secret = issue_key(spec)
    _with_store(config, lambda store: store.create_key(record))
    if json:
        print(msgspec.json.encode({**record.public(), "secret": secret}).decode())
        return
    # Names and tags are user text: escaped, so "[red]" in a name is shown, not obeyed.
    console.print(f"created key [bold]{record.id}[/bold] ({escape(record.name)})", highlight=False)
    print(f"secret: {secret}")
    errors.print(
        "[yellow]Copy the secret now: it is not shown again (proctor keeps only its hash).[/yellow]"
    )


def _when(at: float | None) -> str:
    if at is None:
        return "-"
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%d")


def _owner(record: KeyRecord) -> str:
    return " / ".join(part or "-" for part in (record.tenant, record.team, record.user))


def _budget(record: KeyRecord) -> str:
    if record.budget_usd is None:
        return "-"
    return f"${record.budget_usd:,.2f}/{record.budget_period}"


def _limits(record: KeyRecord) -> str:
    parts = [f"{record.rpm:,} rpm"] if record.rpm is not None else []
    if record.tpm is not None:
        parts.append(f"{record.tpm:,} tpm")
    if record.models:
        parts.append("models: " + ", ".join(record.models))
    return "; ".join(parts) or "-"


@keys_app.command("list")
def list_(
    all_: Annotated[bool, typer.Option("--all", help="include revoked keys")] = False,
    config: ConfigOption = None,
    json: JsonOption = False,
) -> None:
    """List keys (active ones; --all adds the revoked)."""
    records = _with_store(config, lambda store: store.list_keys(include_revoked=all_))
    if json:
        print(msgspec.json.encode([record.public() for record in records]).decode())
        return
    table = Table(
        title=f"virtual keys ({len(records)})",
        caption="owner: tenant / team / user",
        box=box.SIMPLE_HEAD,  # no vertical rules: the width goes to the text
    )
    # Handles people copy and dates never wrap; the descriptive columns share what is left
    # (--json has everything in full, times to the microsecond).
    for column in ("id", "name", "prefix", "owner", "budget", "limits", "created"):
        table.add_column(column, no_wrap=column in ("id", "prefix", "created"))
    if all_:
        table.add_column("revoked", no_wrap=True)
    for r in records:
        cells = (r.id, r.name, r.prefix, _owner(r), _budget(r), _limits(r), _when(r.created_at))
        row = [escape(cell) for cell in cells]
        if all_:
            row.append(f"[red]{_when(r.revoked_at)}[/red]" if r.revoked_at is not None else "-")
        table.add_row(*row)
    console.print(table)


@keys_app.command()
def revoke(
    key_id: Annotated[str, typer.Argument(help="the key's id (key_...) or its secret's prefix")],
    config: ConfigOption = None,
    json: JsonOption = False,
) -> None:
    """Revoke a key; gateways refuse it within `keys.refresh_s` seconds."""
    try:
        record = _with_store(config, lambda store: store.revoke_key(key_id))
    except (KeyNotFound, AmbiguousKey) as exc:
        raise _fail(str(exc), 1) from None
    if json:
        print(msgspec.json.encode(record.public()).decode())
        return
    console.print(
        f"revoked key [bold]{record.id}[/bold] ({escape(record.name)}) "
        f"at {_when(record.revoked_at)}",
        highlight=False,
    )
