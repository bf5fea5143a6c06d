"""``ivr sim`` and ``ivr ask``: talk to the hotline without a telephone."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from ivr.config import get_settings
from ivr.dialogue.turns import CallerTurn

NowOpt = Annotated[str | None, typer.Option("--now", help="Fix the clock: ISO date-time, e.g. 2026-11-27T10:00.")]
DataOpt = Annotated[Path | None, typer.Option("--data", help="Knowledge-base folder (default: IVR_DATA_DIR).")]


def _simulator(data: Path | None, now: str | None):  # noqa: ANN202 - imported lazily: models are heavy
    from simulator.runtime import Simulator

    settings = get_settings()
    return Simulator(data or settings.data_dir, now, settings.embedding_model, settings.cache_dir)


def sim(
    now: NowOpt = None,
    data: DataOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Read caller lines from stdin, print JSON turns.")] = False,
    script: Annotated[list[Path] | None, typer.Option("--script", help="Run YAML scenario file(s).")] = None,
    more: Annotated[list[Path] | None, typer.Argument(help="More scenario files (with --script).")] = None,
) -> None:
    """A whole call in the console: type what the caller says; /dtmf 1, /silence, /hangup."""
    if more and not script:
        raise typer.BadParameter("scenario files go after --script")
    simulator = _simulator(data, now)
    if script:
        raise typer.Exit(_run_scripts(simulator, [*script, *(more or [])]))
    from simulator.console import run_console

    raise typer.Exit(run_console(simulator, as_json))


def _run_scripts(simulator, paths: list[Path]) -> int:  # noqa: ANN001
    from simulator.scenarios import run_files

    console = Console(soft_wrap=True)
    results = run_files(simulator, paths)
    failed = [r for r in results if not r.passed]
    for r in results:
        console.print(("[green]PASS[/green] " if r.passed else "[red]FAIL[/red] ") + r.name, highlight=False)
        for m in r.mismatches:
            console.print(f"    {m}", markup=False, highlight=False)
        if not r.passed:
            for caller, turn in r.transcript:
                console.print(f"      caller: {caller}" if caller else "", markup=False, highlight=False)
                console.print(f"      bot[{turn.action}/{turn.intent}]: {turn.text}", markup=False, highlight=False)
    console.print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


def ask(
    text: Annotated[str | None, typer.Argument(help="One caller utterance; without it, one per stdin line.")] = None,
    now: NowOpt = None,
    data: DataOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (the default when piped).")] = False,
) -> None:
    """Answer one turn of a fresh call; prints text, intent, confidence, slots, action, reply."""
    simulator = _simulator(data, now)

    async def one(utterance: str) -> dict:
        session = simulator.session()
        await session.start()
        reply = await session.handle(CallerTurn.speech(utterance))
        out = reply.to_json(utterance)
        out.pop("events", None) if not out["events"] else None
        return out

    lines = [text] if text is not None else (line.rstrip("\n") for line in sys.stdin)
    for line in lines:
        if not line.strip():
            continue
        result = asyncio.run(one(line))
        if as_json or text is None or not sys.stdout.isatty():
            typer.echo(json.dumps(result, ensure_ascii=False))
        else:
            typer.echo(f"{result['reply']}\n  [{result['action']} · {result['intent']} {result['confidence']}]"
                       f" {result['slots']}")
