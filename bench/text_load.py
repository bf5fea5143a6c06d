"""N simultaneous text calls × T turns each through a real `ivr serve`, over Twilio's gather webhooks.

    .venv/bin/python bench/text_load.py [--calls 50] [--turns 20] [--think 0] [--port 8766]

Exercises the whole HTTP and dialogue path without ASR: the server runs in gather mode
(IVR_TWILIO_MODE=gather), and each call is placed as Twilio places one — a signed POST
/twilio/voice, then one signed POST /twilio/gather per caller turn with the words in
SpeechResult (or the key in Digits), a GET of every <Play> clip (our TTS renders each reply), and
the status callback when the call is over. Signatures come from the real ``twilio``
RequestValidator, as in bench/calls.py.

What callers say: questions from the knowledge base's own phrasings (faq_data/<city>/phrasings.csv,
the topics the bot answers), and answers to what the bot asks back — a town when it asks the area,
the 丁目 or key 1 when it asks which part, an item or a category, はい to a confirmation, いいえ to an
offer of staff. The TwiML carries no text (the reply is a clip), so each call's lines are planned
first by running the same dialogue in this process (same data, same clock, staff always available
here and on the server, so a hand-off is a transfer, not a ticket); the server's answers are then
compared with the plan (a different kind of answer counts as a divergence, not an error). A call the
bot ends early (a transfer, a goodbye) is dialled again, so every call makes exactly T turns.

Prints errors (target 0: non-200 answers, unparseable TwiML, transport exceptions, ERROR lines in
the server log — every system_error hand-off logs one — and HTTP 5xx), turn latency p50/p95 (POST
/twilio/gather sent → TwiML received, TTS of the reply included), and throughput. ``--think S``
waits up to S s between turns (0: every call always has a request in flight, the worst case).
A benchmark that prints figures, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import random
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from calls import TOKEN, _cpu_seconds  # noqa: E402 - the Twilio side and the CPU reading of bench/calls.py
from server_watch import log_problems, percentiles, print_problems, rss_kb, total_mb  # noqa: E402
from turn_carriers import start_server, stop_server  # noqa: E402
from twilio.request_validator import RequestValidator  # noqa: E402

STAFF = "always"  # here and on the server: a hand-off is a transfer (ends the call), never a ticket flow
NOT_ASKED = {"goodbye", "operator", "repeat"}  # handlers that end or stall a call: not new questions
HTTP_TIMEOUT_S = 120.0
TWILIO_TIMEOUT_MS = 15000.0  # Twilio gives up on a webhook after 15 s: the caller would hear an error


@dataclass(frozen=True)
class Line:
    """One caller turn, planned: words or a key; ``dial`` when a new call must be placed first."""

    speech: str = ""
    digits: str = ""
    dial: bool = False
    expect: str = "gather"  # what the dialogue in process answered: gather | hangup | transfer


def question_pool(kb) -> list[str]:  # noqa: ANN001 - a KnowledgeBase (imported lazily)
    """The phrasings of topics the bot answers (not the ones that end the call or need staff)."""
    answered = {t.id for t in kb.topics if str(t.action) in ("answer", "ask_slot")
                and str(t.handler or "") not in NOT_ASKED}
    with (Path(kb.root) / "phrasings.csv").open(encoding="utf-8") as f:
        return [row["text"] for row in csv.DictReader(f) if row["topic"] in answered]


def next_line(session, kb, pool: list[str], rng: random.Random) -> Line:  # noqa: ANN001
    """What a caller says next, given what the bot is waiting for."""
    from ivr.dialogue.state import AnythingElse, AskSlot, Confirm, OfferStaff

    pending = session.state.pending
    if isinstance(pending, AskSlot):
        if pending.slot == "area":
            return Line(f"{rng.choice(sorted({a.town for a in kb.areas}))}です")
        if pending.slot == "chome":
            n = next((c for a in pending.choices for c in a.chome_numbers()), 1)
            return Line(f"{n}丁目です")
        if pending.slot == "side":
            return Line(digits="1")
        if pending.slot == "item":
            return Line(f"{rng.choice(kb.items).name}です")
        if pending.slot == "category":
            return Line(rng.choice(kb.categories).name)
    if isinstance(pending, Confirm):
        return Line("はい")
    if isinstance(pending, OfferStaff):
        return Line("いいえ")
    if pending is None or isinstance(pending, AnythingElse):
        return Line(rng.choice(pool))
    return Line("はい")  # a read-back 「…ですね？」 (recovery): the caller confirms


async def plan(calls: int, turns: int, seed: int) -> list[list[Line]]:
    """Each call's lines, from the real dialogue run in this process."""
    from ivr.config import get_settings
    from ivr.dialogue.turns import Action, CallerTurn
    from simulator.runtime import Simulator

    settings = get_settings()
    sim = Simulator(settings.data_dir, embedding_model=settings.embedding_model, cache_dir=settings.cache_dir)
    kb = sim.brain.kb
    pool = question_pool(kb)
    out: list[list[Line]] = []
    for i in range(calls):
        rng = random.Random(seed * 1000 + i)
        lines: list[Line] = []
        session, dial = None, True
        while len(lines) < turns:
            if session is None:
                session = sim.session(caller_number=caller(i))
                await session.start()
            line = next_line(session, kb, pool, rng)
            turn = CallerTurn.dtmf(line.digits) if line.digits else CallerTurn.speech(line.speech)
            reply = await session.handle(turn)
            ended = reply.action in (Action.transfer, Action.end) or session.state.ended
            expect = "transfer" if reply.action is Action.transfer else "hangup" if ended else "gather"
            lines.append(Line(line.speech, line.digits, dial, expect))
            dial = ended
            if ended:
                session = None
        out.append(lines)
    return out


def caller(i: int) -> str:
    return f"+8190{i:08d}"


def twiml_kind(body: bytes) -> tuple[str, list[str], int]:
    """gather | hangup | transfer, the clip URLs to fetch, and how many replies fell back to <Say>
    (our TTS failed or took over 8 s); raises on anything else."""
    root = ET.fromstring(body)
    plays = [(p.text or "").strip() for p in root.iter("Play")]
    says = len(list(root.iter("Say")))
    if root.find("Gather") is not None:
        return "gather", plays, says
    if root.find("Hangup") is not None:
        return "hangup", plays, says
    if root.find("Dial") is not None or root.find("Enqueue") is not None:
        return "transfer", plays, says
    raise ValueError(f"no Gather, Hangup, Dial or Enqueue in {body[:200]!r}")


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)  # gather POST → TwiML, ms
    greetings: list[float] = field(default_factory=list)  # voice POST → TwiML, ms
    errors: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)
    turns: int = 0
    dials: int = 0
    diverged: int = 0
    says: int = 0  # replies spoken by Twilio's <Say>: our TTS did not make it in time
    ends: Counter[str] = field(default_factory=Counter)  # how the bot ended calls (server side)

    def error(self, kind: str, detail: str) -> None:
        self.errors[kind] += 1
        if len(self.examples) < 5:
            self.examples.append(f"{kind}: {detail[:300]}")


class TwilioSide:
    """Twilio's requests to the server for one bench run (one HTTP client, many calls)."""

    def __init__(self, client: httpx.AsyncClient, base: str, stats: Stats) -> None:
        self.client, self.base, self.stats = client, base, stats
        self.validator = RequestValidator(TOKEN)

    async def post(self, path: str, params: dict[str, str]) -> tuple[str, list[str], float] | None:
        """Signed POST; (kind, clips, ms), or None after counting the error."""
        url = f"{self.base}{path}"
        headers = {"X-Twilio-Signature": self.validator.compute_signature(url, params)}
        t0 = time.monotonic()
        try:
            response = await self.client.post(url, data=params, headers=headers)
        except httpx.HTTPError as e:
            self.stats.error(f"{type(e).__name__} on {path}", repr(e))
            return None
        ms = (time.monotonic() - t0) * 1000
        if response.status_code != 200:
            self.stats.error(f"HTTP {response.status_code} on {path}", response.text)
            return None
        try:
            kind, clips, says = twiml_kind(response.content)
        except (ET.ParseError, ValueError) as e:
            self.stats.error(f"unparseable TwiML from {path}", repr(e))
            return None
        self.stats.says += says
        if ms > TWILIO_TIMEOUT_MS:
            self.stats.error("answer slower than Twilio's 15 s webhook timeout", f"{path}: {ms:.0f} ms")
        for clip in clips:  # Twilio fetches every <Play>; a missing clip is silence on the line
            try:
                got = await self.client.get(clip)
                if got.status_code != 200 or not got.content.startswith(b"RIFF"):
                    self.stats.error(f"clip HTTP {got.status_code}", clip)
            except httpx.HTTPError as e:
                self.stats.error("clip fetch failed", repr(e))
        return kind, clips, ms

    async def hung_up(self, sid: str, i: int) -> None:
        """The status callback Twilio sends when a call is over."""
        params = {"CallSid": sid, "AccountSid": "ACbench", "CallStatus": "completed", "From": caller(i)}
        url = f"{self.base}/twilio/status"
        headers = {"X-Twilio-Signature": self.validator.compute_signature(url, params)}
        try:
            response = await self.client.post(url, data=params, headers=headers)
            if response.status_code >= 300:
                self.stats.error(f"HTTP {response.status_code} on /twilio/status", response.text)
        except httpx.HTTPError as e:
            self.stats.error("status callback failed", repr(e))


async def one_call(i: int, lines: list[Line], twilio: TwilioSide, think: float, rng: random.Random) -> None:
    stats = twilio.stats
    sid, live, dials = "", False, 0
    base = {"AccountSid": "ACbench", "From": caller(i), "To": "+81742111111"}
    for line in lines:
        if line.dial or not live:
            if sid:
                await twilio.hung_up(sid, i)
            dials += 1
            sid = f"CA{i:016d}{dials:016d}"
            stats.dials += 1
            got = await twilio.post("/twilio/voice", {**base, "CallSid": sid})
            if got is None or got[0] != "gather":
                if got is not None:
                    stats.error("greeting did not gather", f"{sid}: {got[0]}")
                continue  # this turn is lost (counted); the next line dials again
            stats.greetings.append(got[2])
            live = True
        params = {**base, "CallSid": sid, "CallStatus": "in-progress"}
        params.update({"Digits": line.digits} if line.digits else {"SpeechResult": line.speech, "Confidence": "0.9"})
        got = await twilio.post("/twilio/gather", params)
        if got is None:
            live = False  # Twilio would drop the call after a failed webhook
            continue
        kind, _, ms = got
        stats.latencies.append(ms)
        stats.turns += 1
        stats.diverged += kind != line.expect
        if kind != "gather":
            stats.ends[kind] += 1
            live = False
        if think:
            await asyncio.sleep(rng.uniform(0, think))
    if sid:
        await twilio.hung_up(sid, i)


async def run(args: argparse.Namespace) -> None:
    os.environ["IVR_STAFF_AVAILABLE"] = STAFF  # for the plan, as for the server
    load0 = os.getloadavg()[0]
    t0 = time.monotonic()
    plans = await plan(args.calls, args.turns, args.seed)
    print(f"planned {args.calls} calls × {args.turns} turns in {time.monotonic() - t0:.0f} s "
          f"({sum(line.dial for p in plans for line in p)} dials)")
    log = Path(tempfile.gettempdir()) / "bench-text-load-server.log"
    stats = Stats()
    with tempfile.TemporaryDirectory(prefix="bench-text-load-") as state_dir:
        server = start_server(args.port, 0, None, log, {
            "IVR_TWILIO_MODE": "gather", "IVR_STAFF_AVAILABLE": STAFF, "IVR_STATE_DIR": state_dir,
            "IVR_MAX_CALLS": str(max(16, args.calls))})
        try:
            offset = log.stat().st_size
            rss0 = rss_kb(server.pid)
            limits = httpx.Limits(max_connections=args.calls + 8, max_keepalive_connections=args.calls + 8)
            async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_S, limits=limits) as client:
                twilio = TwilioSide(client, f"http://127.0.0.1:{args.port}", stats)
                cpu0, wall0 = _cpu_seconds(server.pid), time.monotonic()
                done = await asyncio.gather(*(one_call(i, p, twilio, args.think, random.Random(args.seed + i))
                                              for i, p in enumerate(plans)), return_exceptions=True)
                wall = time.monotonic() - wall0
                cpu = (_cpu_seconds(server.pid) - cpu0) / wall
            rss1 = rss_kb(server.pid)
        finally:
            stop_server(server)
    for outcome in done:
        if isinstance(outcome, BaseException):
            stats.error("bench exception", repr(outcome))
    found = log_problems(log, offset)
    errors = sum(stats.errors.values()) + found.total
    print(f"{args.calls} simultaneous text calls × {args.turns} turns over Twilio gather "
          f"(think ≤ {args.think:g} s): {stats.turns} of {args.calls * args.turns} turns made, in {stats.dials} dials, "
          f"{wall:.1f} s")
    print(f"  errors: {errors} (target 0)")
    for kind, n in stats.errors.most_common():
        print(f"    {kind}: {n}")
    for line in stats.examples:
        print(f"    e.g. {line}")
    print_problems(found, "  ")
    print(f"  turn latency (gather POST → TwiML, reply TTS included): {percentiles(stats.latencies)}")
    print(f"  greeting (voice POST → TwiML): {percentiles(stats.greetings)}")
    print(f"  replies that fell back to Twilio's <Say> (our TTS late or failed): {stats.says}")
    print(f"  throughput: {stats.turns / wall:.1f} turns/s")
    print(f"  calls ended by the bot: {dict(stats.ends) or 'none'}; answers of another kind than "
          f"the plan's: {stats.diverged}")
    print(f"  server CPU (with its TTS workers): {cpu * 100:.0f}% of one core; "
          f"RSS {total_mb(rss0):.0f} → {total_mb(rss1):.0f} MB")
    print(f"  synthesis (server log): {'; '.join(synthesis_lines(log)) or 'no figures logged'}")
    print(f"  machine load average (1 min) before → after: {load0:.2f} → {os.getloadavg()[0]:.2f} "
          f"(shared machine: the server's CPU above is what it got)")
    print(f"  server log: {log}")


def synthesis_lines(log: Path) -> list[str]:
    """What the server says about its synthesis: units made this run, item answers rendered in the
    background (none when the voice cache already held them: a warm start)."""
    keep = ("units synthesised this run", "item-answer units")
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    return [line.split(": ", 1)[-1] for line in lines if any(k in line for k in keep)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--think", type=float, default=0.0, help="max pause between a call's turns, s")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--seed", type=int, default=5374)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
