"""The ``ivr`` command: one entry point, one sub-command per job."""

from __future__ import annotations

import typer

from ivr.knowledge.cli import data_app
from simulator.cli import ask, sim

app = typer.Typer(
    help="Japanese telephone voice bot for municipal garbage hotlines.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(data_app, name="data")
app.command()(sim)
app.command()(ask)


@app.command()
def version() -> None:
    """Print the version."""
    from ivr import __version__

    typer.echo(__version__)


if __name__ == "__main__":
    app()
