"""Simultaneous streamed calls against a real `ivr serve`, speaking Twilio's Media Streams protocol.

    .venv/bin/python bench/calls.py [--calls 8] [--turns 3] [--port 8765]

Starts `ivr serve` in a subprocess (Twilio stream mode, a bench auth token), then runs N calls
at once. Each call is placed like Twilio does (signed POST /twilio/voice, then the signed
websocket with the one-time token), listens to the greeting (echoing marks), then asks
``--turns`` questions from the telephone test set in real time (20 ms μ-law frames), with a
pause of 1–3 s between hearing an answer and asking again. Calls start at random within the
greeting's length (~25 s), so their turns fall independently, as real callers' do; all N calls
are then on the line together.
Prints end of caller speech → first bot audio p50/p95, outbound frames late by more than
40 ms against their 20 ms slots (and the worst), and the server's CPU use (with its TTS worker).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import numpy as np
import websockets
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from telephone_set import build  # noqa: E402

from ivr.audio.codec import frames, ulaw_encode  # noqa: E402

TOKEN = "bench-auth-token"
LATE_MS = 40.0
SILENCE_AFTER_MS = 1500  # the caller then stays quiet while the bot answers
START_SPREAD_S = 25.0  # about the greeting's length: call phases independent, not all asking at once


@dataclass
class CallResult:
    waits: list[float] = field(default_factory=list)  # end of speech → first bot frame, s
    frames: int = 0
    late: int = 0
    worst_late_ms: float = 0.0
    error: str = ""


def _cpu_seconds(pid: int) -> float:
    """utime+stime of a process and its children (the TTS worker), from /proc."""
    total, todo = 0.0, [pid]
    tick = os.sysconf("SC_CLK_TCK")
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return total


def post_voice(base: str, call_sid: str) -> tuple[str, str]:
    """Twilio's signed voice webhook; returns the <Stream> URL and its one-time token."""
    params = {"CallSid": call_sid, "AccountSid": "ACbench", "From": "+81742000000", "To": "+81742111111"}
    signature = RequestValidator(TOKEN).compute_signature(f"{base}/twilio/voice", params)
    request = urllib.request.Request(f"{base}/twilio/voice", data=urlencode(params).encode(),
                                     headers={"X-Twilio-Signature": signature})
    with urllib.request.urlopen(request, timeout=30) as response:
        root = ET.fromstring(response.read())
    stream = root.find("./Connect/Stream")
    assert stream is not None, "no <Connect><Stream> in the TwiML"
    token = next(p.get("value") for p in stream.findall("Parameter") if p.get("name") == "token")
    return stream.get("url", ""), token or ""


class Caller:
    """One Twilio-side call: sends the caller's frames in real time, notes the bot's frames."""

    def __init__(self, ws: websockets.ClientConnection, sid: str, result: CallResult) -> None:
        self.ws, self.sid, self.result = ws, sid, result
        self.marks: asyncio.Queue[str] = asyncio.Queue()
        self.first_frame: asyncio.Event = asyncio.Event()
        self.frame_at: float = 0.0
        self._slot0: float | None = None
        self._n = 0

    async def listen(self) -> None:
        async for raw in self.ws:
            msg = json.loads(raw)
            now = time.monotonic()
            if msg["event"] == "media":
                if self._slot0 is None:
                    self._slot0, self._n = now, 0
                    self.frame_at = now
                    self.first_frame.set()
                late = (now - (self._slot0 + self._n * 0.02)) * 1000
                self._n += 1
                self.result.frames += 1
                self.result.worst_late_ms = max(self.result.worst_late_ms, late)
                self.result.late += late > LATE_MS
            elif msg["event"] == "mark":
                self._slot0 = None  # the next prompt starts its own clock
                await self.ws.send(json.dumps({"event": "mark", "streamSid": self.sid, "mark": msg["mark"]}))
                await self.marks.put(msg["mark"]["name"])
            elif msg["event"] == "clear":
                self._slot0 = None

    async def send(self, pcm: np.ndarray, speech_end: int) -> float:
        """Real-time audio; returns when the caller's last audible sound was sent (monotonic)."""
        speech_frames = speech_end // 160
        ended = 0.0
        next_at = time.monotonic()
        for i, frame in enumerate(frames(np.concatenate([pcm, np.zeros(SILENCE_AFTER_MS * 8, np.int16)]))):
            payload = base64.b64encode(ulaw_encode(frame)).decode()
            await self.ws.send(json.dumps({"event": "media", "streamSid": self.sid,
                                           "media": {"track": "inbound", "payload": payload}}))
            if i == speech_frames:
                ended = time.monotonic()
            next_at += 0.02
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        return ended


async def one_call(i: int, base: str, samples: list, turns: int, result: CallResult) -> None:
    await asyncio.sleep(random.uniform(0, START_SPREAD_S))
    sid = f"CA{i:032d}"
    url, token = await asyncio.to_thread(post_voice, base, sid)
    ws_url = url.replace("wss://", "ws://")
    signature = RequestValidator(TOKEN).compute_signature(url, {})
    async with websockets.connect(ws_url, additional_headers={"X-Twilio-Signature": signature},
                                  max_size=2**20) as ws:
        stream_sid = f"MZ{i:032d}"
        await ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
        await ws.send(json.dumps({"event": "start", "sequenceNumber": "1", "streamSid": stream_sid, "start": {
            "streamSid": stream_sid, "callSid": sid, "accountSid": "ACbench", "tracks": ["inbound"],
            "customParameters": {"token": token}, "mediaFormat": {
                "encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}}))
        caller = Caller(ws, stream_sid, result)
        listener = asyncio.create_task(caller.listen())
        await asyncio.wait_for(caller.marks.get(), 120)  # the greeting, heard to the end
        for t in range(turns):
            sample = samples[(i * turns + t) % len(samples)]
            caller.first_frame.clear()
            ended = await caller.send(sample.pcm, sample.speech_end)
            await asyncio.wait_for(caller.first_frame.wait(), 60)
            result.waits.append(max(0.0, caller.frame_at - ended))
            await asyncio.wait_for(caller.marks.get(), 120)
            await asyncio.sleep(random.uniform(1, 3))
        listener.cancel()
        await ws.send(json.dumps({"event": "stop", "streamSid": stream_sid, "stop": {"callSid": sid}}))


def _start_server(port: int, log: Path) -> subprocess.Popen:
    from turn_carriers import start_server  # one way to start `ivr serve` for every bench

    return start_server(port, 0, None, log)


async def run(args: argparse.Namespace) -> None:
    base = f"http://127.0.0.1:{args.port}"
    samples = [s for s in build() if s.snr_db == 20.0]
    results = [CallResult() for _ in range(args.calls)]
    log = Path(tempfile.gettempdir()) / "bench-calls-server.log"
    server = _start_server(args.port, log)
    try:
        cpu0, wall0 = _cpu_seconds(server.pid), time.monotonic()
        outcome = await asyncio.gather(*(one_call(i, base, samples, args.turns, r) for i, r in enumerate(results)),
                                       return_exceptions=True)
        cpu = (_cpu_seconds(server.pid) - cpu0) / (time.monotonic() - wall0)
    finally:
        server.terminate()
        server.wait(30)
    for r, o in zip(results, outcome, strict=True):
        if isinstance(o, BaseException):
            r.error = repr(o)
    waits = [w * 1000 for r in results for w in r.waits]
    print(f"{args.calls} simultaneous streamed calls, {args.turns} questions each ({len(waits)} answered; "
          f"{sum(bool(r.error) for r in results)} calls failed)")
    for r in results:
        if r.error:
            print(f"  failed: {r.error}")
    if waits:
        print(f"  end of speech → first bot audio: p50 {np.percentile(waits, 50):.0f} ms, "
              f"p95 {np.percentile(waits, 95):.0f} ms, max {max(waits):.0f} ms")
    frames_ = sum(r.frames for r in results)
    print(f"  outbound frames: {frames_}, later than {LATE_MS:.0f} ms behind their slot: "
          f"{sum(r.late for r in results)}, worst {max(r.worst_late_ms for r in results):.1f} ms")
    print(f"  server log: {log}")
    print(f"  server CPU (with the TTS worker): {cpu * 100:.0f}% of one core ({cpu * 50:.0f}% of this 2-core machine)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=8)
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--seed", type=int, default=5374)
    args = parser.parse_args()
    random.seed(args.seed)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
