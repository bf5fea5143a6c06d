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
    audio: Annotated[list[Path] | None, typer.Option("--audio", help="WAV file(s), one caller turn each.")] = None,
    save_audio: Annotated[Path | None, typer.Option("--save-audio", help="With --audio: write the bot's audio here.")]
    = None,
    caller: Annotated[str, typer.Option("--caller", help="The caller's number, as a carrier would give it.")] = "",
    more: Annotated[list[Path] | None, typer.Argument(help="More files (with --script or --audio).")] = None,
) -> None:
    """A whole call in the console: type what the caller says; /dtmf 1, /silence, /hangup."""
    if more and not (script or audio):
        raise typer.BadParameter("files go after --script or --audio")
    simulator = _simulator(data, now)
    if script:
        raise typer.Exit(_run_scripts(simulator, [*script, *(more or [])]))
    if audio:
        raise typer.Exit(_run_audio(simulator, [*audio, *(more or [])], as_json, save_audio, caller))
    from simulator.console import run_console

    raise typer.Exit(run_console(simulator, as_json))


def _run_audio(simulator, files: list[Path], as_json: bool, save_audio: Path | None, caller: str) -> int:  # noqa: ANN001
    from ivr.speech.services import SpeechServices
    from simulator.audio import run_audio_call, turn_json

    for path in files:
        if not path.is_file():
            raise typer.BadParameter(f"no such file: {path}")
    speech = SpeechServices.load()
    try:
        records, transport = asyncio.run(run_audio_call(simulator, speech, files, caller, save_audio))
    finally:
        speech.close()
    console = Console(soft_wrap=True)
    for record in records:
        turn = turn_json(record)
        if as_json:
            typer.echo(json.dumps(turn, ensure_ascii=False))
            continue
        if record.transcript:
            console.print(f"caller: {record.transcript}", markup=False, highlight=False)
        console.print(f"bot[{turn['action']}/{turn['intent']}]: {turn['reply']}", markup=False, highlight=False)
        for event in turn["events"]:
            console.print(f"  ({event['kind']}: {event})", markup=False, highlight=False)
    for action in transport.actions:
        if as_json:
            typer.echo(json.dumps({"carrier": action}, ensure_ascii=False))
        else:
            console.print(f"[carrier] {action}", markup=False, highlight=False)
    for error in transport.errors:
        if as_json:
            typer.echo(json.dumps({"error": error}, ensure_ascii=False))
        else:
            console.print(f"[error] {error}", markup=False, highlight=False)
    return 1 if transport.errors else 0


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
