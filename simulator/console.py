"""``ivr sim``: an interactive call in the terminal (Rich), or JSON lines when piped."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import TextIO

from rich.console import Console
from rich.panel import Panel

from ivr.dialogue.turns import Action, BotTurn
from simulator.commands import HELP, QuitCommand, to_turn
from simulator.runtime import Simulator

ACTION_STYLE = {Action.transfer: "bold magenta", Action.ticket: "bold yellow", Action.end: "bold red"}
EVENT_STYLE = {"transfer": "bold magenta", "ticket": "bold yellow", "hangup": "red", "error": "bold red"}


def _show(console: Console, turn: BotTurn) -> None:
    meta = f"[dim]{turn.action}"
    if turn.intent:
        meta += f" · {turn.intent} ({turn.confidence:.2f})"
    if turn.slots:
        meta += " · " + ", ".join(f"{k}={v}" for k, v in turn.slots.items())
    meta += "[/dim]"
    console.print(Panel(turn.text or "(無音)", title="bot", title_align="left",
                        border_style=ACTION_STYLE.get(turn.action, "green"), subtitle=meta, subtitle_align="left"))
    for event in turn.events:
        style = EVENT_STYLE.get(event.kind, "cyan")
        console.print(f"[{style}]⚑ {event.kind}: {event.data}[/]", highlight=False)


async def interactive(sim: Simulator, console: Console) -> int:
    session = sim.session()
    console.print(f"[dim]{sim.brain.kb.municipality.name} · {sim.clock():%Y-%m-%d %H:%M} · {HELP}[/dim]")
    _show(console, await session.start())
    while not session.state.ended:
        try:
            line = console.input("[bold cyan]caller>[/] ")
        except (EOFError, KeyboardInterrupt):
            line = "/hangup"
        try:
            turn = to_turn(line)
        except QuitCommand:
            break
        except ValueError as exc:
            console.print(f"[red]{exc}[/red]")
            continue
        if turn is None:
            continue
        _show(console, await session.handle(turn))
    return 0


async def json_lines(sim: Simulator, stdin: TextIO, stdout: TextIO) -> int:
    """One caller line per input line → one JSON object per bot turn (the greeting first)."""
    session = sim.session()
    stdout.write(json.dumps((await session.start()).to_json(), ensure_ascii=False) + "\n")
    for line in stdin:
        if session.state.ended:
            break
        try:
            turn = to_turn(line)
        except QuitCommand:
            break
        except ValueError as exc:
            stdout.write(json.dumps({"error": str(exc)}, ensure_ascii=False) + "\n")
            continue
        if turn is None:
            continue
        reply = await session.handle(turn)
        stdout.write(json.dumps(reply.to_json(line.strip()), ensure_ascii=False) + "\n")
        stdout.flush()
    return 0


def run_console(sim: Simulator, as_json: bool) -> int:
    if as_json or not sys.stdin.isatty():
        return asyncio.run(json_lines(sim, sys.stdin, sys.stdout))
    return asyncio.run(interactive(sim, Console()))
