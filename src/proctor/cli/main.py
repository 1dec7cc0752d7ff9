"""The `proctor` command."""

from __future__ import annotations

import typer

from proctor.cli.alerts import alerts_app
from proctor.cli.bench import bench_app
from proctor.cli.drill import drill
from proctor.cli.guard import guard_app
from proctor.cli.keys import keys_app
from proctor.cli.review import review_app
from proctor.cli.serve import serve
from proctor.cli.spend import spend

app = typer.Typer(no_args_is_help=True, add_completion=False, help="proctor, the LLM gateway.")
app.command()(serve)
app.command()(drill)
app.add_typer(bench_app, name="bench")
app.add_typer(keys_app, name="keys")
app.add_typer(guard_app, name="guard")
app.add_typer(review_app, name="review")
app.add_typer(alerts_app, name="alerts")
app.command()(spend)


@app.callback()
def root() -> None:
    """proctor, the LLM gateway: cost, limits, routing, caching, guardrails, resilience."""


def main() -> None:
    app()
