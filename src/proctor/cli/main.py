"""The `proctor` command."""

from __future__ import annotations

import typer

from proctor.cli.serve import serve

app = typer.Typer(no_args_is_help=True, add_completion=False, help="proctor, the LLM gateway.")
app.command()(serve)


@app.callback()
def root() -> None:
    """proctor, the LLM gateway: cost, limits, routing, caching, guardrails, resilience."""


def main() -> None:
    app()
