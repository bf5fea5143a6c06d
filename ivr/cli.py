"""The ``ivr`` command: one entry point, one sub-command per job."""

from __future__ import annotations

import typer

from analytics.report import report
from escalation.cli import db_app, staff_app, tickets_app
from ivr.knowledge.cli import data_app
from ivr.server.cli import serve
from ivr.speech.cli import transcribe
from simulator.cli import ask, sim
from voices.cli import say, voices_app

app = typer.Typer(
    help="Japanese telephone voice bot for municipal garbage hotlines.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(data_app, name="data")
app.add_typer(voices_app, name="voices")
app.add_typer(db_app, name="db")
app.add_typer(tickets_app, name="tickets")
app.add_typer(staff_app, name="staff")
app.command()(serve)
app.command()(sim)
app.command()(ask)
app.command()(say)
app.command()(transcribe)
app.command()(report)


@app.command()
def version() -> None:
    """Print the version."""
    from ivr import __version__

    typer.echo(__version__)


if __name__ == "__main__":
    app()
