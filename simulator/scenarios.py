"""YAML call scenarios: caller turns with expectations, run through a real call session.

A scenario file holds one scenario or a ``scenarios:`` list::

    name: 粗大ごみの申し込み（時間外）
    now: 2026-11-27T20:00
    caller_number: "09012345678"     # optional: the number the carrier reports
    turns:
      - say: 粗大ごみを出したいんやけど
        expect: {intent: oversize_booking, action: ticket, contains: [職員]}
      - dtmf: "1"
      - silence: true
      - hangup: true
        expect: {event: ticket}

``expect`` keys: contains / not_contains (text or list), action, intent, slots (mapping,
subset), event (kind that must be among the turn's events). Failures list every mismatch.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ivr.dialogue.turns import BotTurn, CallerTurn
from simulator.runtime import Simulator, parse_now

TURN_KINDS = ("say", "dtmf", "silence", "hangup")


@dataclass
class Mismatch:
    turn: int
    caller: str
    field: str
    expected: Any
    actual: Any

    def __str__(self) -> str:
        return f"turn {self.turn} ({self.caller}): {self.field}: expected {self.expected!r}, got {self.actual!r}"


@dataclass
class ScenarioResult:
    name: str
    source: str
    mismatches: list[Mismatch] = field(default_factory=list)
    transcript: list[tuple[str, BotTurn]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.mismatches


def load_scenarios(path: Path) -> list[dict[str, Any]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    items = data["scenarios"] if isinstance(data, dict) and "scenarios" in data else [data]
    for i, sc in enumerate(items):
        if not isinstance(sc, dict) or not isinstance(sc.get("turns"), list):
            raise ValueError(f"{path}: scenario {i + 1} needs a 'turns' list")
        sc.setdefault("name", f"{path.stem} #{i + 1}")
    return items


def _turn(spec: dict[str, Any]) -> tuple[str, CallerTurn]:
    kinds = [k for k in TURN_KINDS if k in spec]
    if len(kinds) != 1:
        raise ValueError(f"a turn needs exactly one of {TURN_KINDS}: {spec}")
    kind = kinds[0]
    if kind == "say":
        return str(spec["say"]), CallerTurn.speech(str(spec["say"]))
    if kind == "dtmf":
        return f"[dtmf {spec['dtmf']}]", CallerTurn.dtmf(str(spec["dtmf"]))
    if kind == "silence":
        return "[silence]", CallerTurn.silence()
    return "[hangup]", CallerTurn.hangup()


def _as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def check(expect: dict[str, Any], reply: BotTurn, n: int, caller: str) -> list[Mismatch]:
    out: list[Mismatch] = []
    for text in _as_list(expect.get("contains")):
        if text not in reply.text:
            out.append(Mismatch(n, caller, "contains", text, reply.text))
    for text in _as_list(expect.get("not_contains")):
        if text in reply.text:
            out.append(Mismatch(n, caller, "not_contains", text, reply.text))
    if "action" in expect and str(reply.action) != expect["action"]:
        out.append(Mismatch(n, caller, "action", expect["action"], str(reply.action)))
    if "intent" in expect and reply.intent != expect["intent"]:
        out.append(Mismatch(n, caller, "intent", expect["intent"], reply.intent))
    for key, value in (expect.get("slots") or {}).items():
        if reply.slots.get(key) != value:
            out.append(Mismatch(n, caller, f"slots.{key}", value, reply.slots.get(key)))
    if "event" in expect and expect["event"] not in [e.kind for e in reply.events]:
        out.append(Mismatch(n, caller, "event", expect["event"], [e.kind for e in reply.events]))
    return out


async def run_scenario(sim: Simulator, scenario: dict[str, Any], source: str = "") -> ScenarioResult:
    now = parse_now(str(scenario["now"]), sim.brain.kb.municipality.timezone) if scenario.get("now") else None
    session = sim.session(caller_number=str(scenario.get("caller_number", "")), now=now)
    result = ScenarioResult(scenario["name"], source)
    greeting = await session.start()
    result.transcript.append(("", greeting))
    if scenario.get("expect_greeting"):
        result.mismatches += check(scenario["expect_greeting"], greeting, 0, "(greeting)")
    for n, spec in enumerate(scenario["turns"], 1):
        caller, turn = _turn(spec)
        reply = await session.handle(turn)
        result.transcript.append((caller, reply))
        result.mismatches += check(spec.get("expect") or {}, reply, n, caller)
    return result


def run_files(sim: Simulator, paths: list[Path]) -> list[ScenarioResult]:
    async def go() -> list[ScenarioResult]:
        results = []
        for path in paths:
            for scenario in load_scenarios(path):
                results.append(await run_scenario(sim, scenario, str(path)))
        return results

    return asyncio.run(go())
