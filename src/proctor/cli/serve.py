"""`proctor serve`: run the gateway."""

from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from rich.console import Console

from proctor import config as config_mod
from proctor import providers
from proctor.config import Config, ConfigError

console = Console(stderr=True)


def resolve_config(path: Path | None) -> tuple[Config, Path | None]:
    """--config, else ./proctor.yaml if present, else the embedded defaults."""
    if path is None and Path("proctor.yaml").exists():
        path = Path("proctor.yaml")
    try:
        config = config_mod.default_config() if path is None else config_mod.load(path)
        check_adapters(config)
    except ConfigError as exc:
        console.print(f"[red]config error:[/red] {exc}")
        raise typer.Exit(2) from None
    return config, path


def check_adapters(config: Config) -> None:
    """Build (without connecting) every provider adapter, so settings that only an adapter
    can judge (a profile that needs an api_key...) fail here with a message, not at start."""
    for name, provider_config in config.providers.items():
        providers.create(name, provider_config)


def serve(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="proctor.yaml")] = None,
    host: Annotated[str | None, typer.Option(help="bind address (default 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default 8787)")] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning")] = "info",
) -> None:
    """Run the gateway."""
    from proctor.server.app import create_app

    cfg, path = resolve_config(config)
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    if config_mod.uses_only_simulator(cfg):
        console.print(
            "[yellow]No provider keys set (OPENAI_API_KEY, ANTHROPIC_API_KEY): answering with "
            "the offline simulator `sim`. Replies are labelled sim/<model>.[/yellow]"
        )
    bind_host = host or cfg.server.host
    bind_port = port or cfg.server.port
    console.print(
        f"proctor listening on http://{bind_host}:{bind_port}  "
        f"(models: {', '.join(cfg.models) or 'none'}; config: {path or 'embedded defaults'})"
    )
    # uvicorn drains in-flight requests and the request log on SIGTERM, then re-raises the
    # signal with the previous handler restored; this one turns it into a clean exit 0.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    uvicorn.run(
        create_app(cfg, config_path=path),
        host=bind_host,
        port=bind_port,
        loop="uvloop" if os.name != "nt" else "asyncio",
        http="httptools",
        access_log=False,
        log_level=log_level,
        timeout_graceful_shutdown=30,
    )
