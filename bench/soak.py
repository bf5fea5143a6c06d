"""A soak: N Media Streams calls kept up for M minutes against a real `ivr serve`, in real time.

    .venv/bin/python bench/soak.py [--calls 8] [--minutes 10] [--port 8767]

Each of the N lines places a call as Twilio does (bench/calls.py: signed POST /twilio/voice, the
signed websocket with the one-time token, 20 ms μ-law frames in real time, marks echoed), hears
the greeting, then asks questions from the telephone test set (20 dB) one after another with a
1–3 s pause after each answer. When the bot ends the call (a goodbye, a transfer, a ticket) the line
asks the <Connect> action URL what follows, as Twilio does, and dials again, so N calls are up the
whole time. Lines start at random within the greeting's length, as in bench/calls.py.

Prints errors (target 0): websocket and HTTP failures, sockets closed with a code other than
1000, calls that ended through an error (a system_error turn in the server's turn log), and ERROR
lines, HTTP 5xx and undecided streams in the server's log; how the bot ended the calls; end of
caller speech → first bot audio p50/p95; outbound frames late by more than 40 ms; the server's
CPU; and the RSS of the server with its children (the TTS worker) once every line has had its
first answer (after warm-up) and at the end with the calls still up: growth target < 10 %.
A benchmark that prints figures, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import websockets

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from calls import LATE_MS, START_SPREAD_S, TOKEN, Caller, CallResult, _cpu_seconds, post_voice  # noqa: E402
from server_watch import describe, log_problems, percentiles, print_problems, rss_kb, total_mb  # noqa: E402
from telephone_set import build  # noqa: E402
from turn_carriers import start_server, stop_server  # noqa: E402
from turn_paths import TurnLog  # noqa: E402
from twilio.request_validator import RequestValidator  # noqa: E402

RSS_EVERY_S = 60.0
ERROR_INTENTS = {"system_error"}  # a turn the dialogue ended through an error (voice_call._fail)


@dataclass
class Line:
    """One of the N lines: its calls one after another, and what went wrong on them."""

    result: CallResult = field(default_factory=CallResult)
    dials: int = 0
    turns: int = 0
    ends: Counter[str] = field(default_factory=Counter)  # what <Connect action> said: hangup | dial | enqueue
    errors: list[str] = field(default_factory=list)
    answered: bool = False  # has had a first answer: warm


def after_stream(base: str, sid: str) -> str:
    """Twilio's request to the <Connect> action URL once the stream closed: what it says next."""
    params = {"CallSid": sid, "AccountSid": "ACbench", "From": "+81742000000", "To": "+81742111111"}
    url = f"{base}/twilio/after-stream"
    signature = RequestValidator(TOKEN).compute_signature(url, params)
    request = urllib.request.Request(url, data=urlencode(params).encode(), headers={"X-Twilio-Signature": signature})
    with urllib.request.urlopen(request, timeout=30) as response:
        body = response.read().decode()
    for verb in ("Hangup", "Dial", "Enqueue"):
        if f"<{verb}" in body:
            return verb.lower()
    raise ValueError(f"after-stream TwiML says neither hang up nor staff: {body[:200]}")


async def unless_ended(aw, listener: asyncio.Task, timeout: float | None) -> bool:  # noqa: ANN001
    """Await ``aw`` unless the server ends the call first (False); TimeoutError past ``timeout``."""
    task = asyncio.ensure_future(aw)
    done, _ = await asyncio.wait({task, listener}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        task.result()
        return True
    task.cancel()
    if listener in done:
        return False
    raise TimeoutError(f"nothing from the bot in {timeout:g} s")


async def one_dial(i: int, line: Line, base: str, samples: list, deadline: float, rng: random.Random,
                   warm: asyncio.Event, n_lines: int, lines: list[Line]) -> bool:
    """One call from dial to its end; True when the bot ended it (False: the soak is over)."""
    line.dials += 1
    sid, stream_sid = f"CA{i:08d}{line.dials:024d}", f"MZ{i:08d}{line.dials:024d}"
    url, token = await asyncio.to_thread(post_voice, base, sid)
    signature = RequestValidator(TOKEN).compute_signature(url, {})
    async with websockets.connect(url.replace("wss://", "ws://"), max_size=2**20,
                                  additional_headers={"X-Twilio-Signature": signature}) as ws:
        await ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
        await ws.send(json.dumps({"event": "start", "sequenceNumber": "1", "streamSid": stream_sid, "start": {
            "streamSid": stream_sid, "callSid": sid, "accountSid": "ACbench", "tracks": ["inbound"],
            "customParameters": {"token": token}, "mediaFormat": {
                "encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}}))
        caller = Caller(ws, stream_sid, line.result)
        listener = asyncio.create_task(caller.listen())
        try:
            ended = not await unless_ended(caller.marks.get(), listener, 120)  # the greeting, to the end
            while not ended and time.monotonic() < deadline:
                sample = rng.choice(samples)
                caller.first_frame.clear()
                try:
                    spoke = await caller.send(sample.pcm, sample.speech_end)
                except websockets.ConnectionClosed:  # the bot ended the call as the caller spoke
                    ended = True
                    break
                if not await unless_ended(caller.first_frame.wait(), listener, 60):
                    ended = True
                    break
                line.result.waits.append(max(0.0, caller.frame_at - spoke))
                if not line.answered:
                    line.answered = True
                    if sum(x.answered for x in lines) == n_lines:
                        warm.set()
                ended = not await unless_ended(caller.marks.get(), listener, 120)
                line.turns += 1
                ended = ended or not await unless_ended(asyncio.sleep(rng.uniform(1, 3)), listener, None)
            if not ended:  # the soak is over: the caller hangs up
                await ws.send(json.dumps({"event": "stop", "streamSid": stream_sid, "stop": {"callSid": sid}}))
                return False
            await asyncio.wait({listener}, timeout=5)
        finally:
            listener.cancel()
    if listener.done() and not listener.cancelled() and listener.exception() is not None:
        exc = listener.exception()
        if not isinstance(exc, websockets.ConnectionClosedOK):
            line.errors.append(f"{sid}: websocket {exc!r}")
    if ws.close_code != 1000:
        line.errors.append(f"{sid}: socket closed with code {ws.close_code} ({ws.close_reason!r})")
    line.ends[await asyncio.to_thread(after_stream, base, sid)] += 1
    return True


async def one_line(i: int, line: Line, base: str, samples: list, deadline: float, seed: int,
                   warm: asyncio.Event, lines: list[Line]) -> None:
    rng = random.Random(seed * 1000 + i)
    await asyncio.sleep(rng.uniform(0, START_SPREAD_S))
    while time.monotonic() < deadline:
        try:
            if not await one_dial(i, line, base, samples, deadline, rng, warm, len(lines), lines):
                return
        except Exception as e:  # a failed dial is an error; the line dials again after a breath
            line.errors.append(f"dial {line.dials}: {e!r}")
            await asyncio.sleep(1)


def bot_ended(turn_log: Path) -> tuple[Counter[str], list[str]]:
    """How the bot ended each call (the last turn's action:intent), and the calls a system error ended."""
    last: dict[str, dict] = {}
    errors: list[str] = []
    for record in TurnLog(turn_log).all():
        if record.get("superseded"):
            continue
        call = str(record.get("call"))
        last[call] = record
        if record.get("intent") in ERROR_INTENTS or record.get("kind") == "error":
            errors.append(f"{call}: turn {record.get('seq')} {record.get('intent')} ({record.get('transcript', '')!r})")
    ends = Counter(f"{r.get('action')}:{r.get('intent')}" for r in last.values()
                   if r.get("action") in ("Action.transfer", "Action.end", "transfer", "end"))
    return ends, errors


async def sample_rss(pid: int, every_s: float, out: list[tuple[float, float]], t0: float) -> None:
    while True:
        out.append((time.monotonic() - t0, total_mb(rss_kb(pid))))
        await asyncio.sleep(every_s)


async def run(args: argparse.Namespace) -> None:
    base = f"http://127.0.0.1:{args.port}"
    samples = [s for s in build() if s.snr_db == 20.0]
    lines = [Line() for _ in range(args.calls)]
    tmp = Path(tempfile.gettempdir())
    log, turn_log = tmp / "bench-soak-server.log", tmp / "bench-soak-turns.jsonl"
    warm = asyncio.Event()
    trend: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory(prefix="bench-soak-") as state_dir:
        server = start_server(args.port, 0, turn_log, log, {"IVR_STATE_DIR": state_dir})
        try:
            offset = log.stat().st_size
            t0 = time.monotonic()
            deadline = t0 + args.minutes * 60
            cpu0 = _cpu_seconds(server.pid)
            calls = asyncio.gather(*(one_line(i, x, base, samples, deadline, args.seed, warm, lines)
                                     for i, x in enumerate(lines)), return_exceptions=True)
            await asyncio.wait({asyncio.ensure_future(warm.wait()), calls}, timeout=args.minutes * 60,
                               return_when=asyncio.FIRST_COMPLETED)
            warm_at, rss_warm = time.monotonic() - t0, rss_kb(server.pid)
            sampler = asyncio.create_task(sample_rss(server.pid, RSS_EVERY_S, trend, t0))
            await asyncio.sleep(max(0.0, deadline - time.monotonic()))
            rss_end = rss_kb(server.pid)  # at the deadline: every line still has a call up
            sampler.cancel()
            outcome = await calls
            wall = time.monotonic() - t0
            cpu = (_cpu_seconds(server.pid) - cpu0) / wall
            await asyncio.sleep(5)
            rss_idle = rss_kb(server.pid)
        finally:
            stop_server(server)
    for x, o in zip(lines, outcome, strict=True):
        if isinstance(o, BaseException):
            x.errors.append(f"bench: {o!r}")
    ends, error_turns = bot_ended(turn_log)
    found = log_problems(log, offset)
    client_errors = [e for x in lines for e in x.errors]
    waits = [w * 1000 for x in lines for w in x.result.waits]
    print(f"soak: {args.calls} streamed calls kept up for {args.minutes:g} min ({wall:.0f} s): "
          f"{sum(x.dials for x in lines)} calls placed, {sum(x.turns for x in lines)} questions answered")
    print(f"  errors: {len(client_errors) + len(error_turns) + found.total} (target 0)")
    print(f"    on the Twilio side (websocket, HTTP, close codes, timeouts): {len(client_errors)}")
    for e in client_errors[:5]:
        print(f"      e.g. {e}")
    print(f"    calls ended through an error (system_error turns): {len(error_turns)}")
    for e in error_turns[:5]:
        print(f"      e.g. {e}")
    print(f"    server log (ERROR lines, HTTP 5xx, undecided streams): {found.total}")
    print_problems(found, "    ")
    after = sum((x.ends for x in lines), Counter())
    print(f"  calls the bot ended: {dict(ends) or 'none'}; <Connect action> then said {dict(after) or '-'}")
    print(f"  end of speech → first bot audio: {percentiles(waits)}")
    frames = sum(x.result.frames for x in lines)
    print(f"  outbound frames: {frames}, later than {LATE_MS:.0f} ms behind their slot: "
          f"{sum(x.result.late for x in lines)}, worst {max(x.result.worst_late_ms for x in lines):.1f} ms")
    print(f"  server CPU (with the TTS worker): {cpu * 100:.0f}% of one core")
    start, end = total_mb(rss_warm), total_mb(rss_end)
    warmth = f"after warm-up ({warm_at:.0f} s in)" if warm.is_set() else f"at {warm_at:.0f} s (a line never warmed)"
    print(f"  RSS, server + children: {start:.0f} MB {warmth} → {end:.0f} MB at the end "
          f"with the calls up: growth {(end - start) / start * 100:+.1f} % (target < 10 %); "
          f"{total_mb(rss_idle):.0f} MB 5 s after the last hang-up")
    print(f"    after warm-up: {describe(rss_warm)}")
    print(f"    at the end:    {describe(rss_end)}")
    if trend:
        print("    every minute: " + ", ".join(f"{t / 60:.0f} min {mb:.0f} MB" for t, mb in trend))
    print(f"  server log: {log}; turn log: {turn_log}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=8)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--port", type=int, default=8767)
    parser.add_argument("--seed", type=int, default=5374)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
