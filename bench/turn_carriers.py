"""The carriers of bench/turns.py's server paths: a real ``ivr serve`` and a caller on Twilio Media
Streams, Asterisk AudioSocket or the browser test call (``/call/ws``), speaking each protocol as
the carrier does (after bench/calls.py, tests/test_audiosocket.py and ivr/server/static/call.js).

The server writes one JSON line per caller turn to ``IVR_TURN_LOG``; that file is how the bench
sees what the recogniser heard on these paths.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import numpy as np
import websockets
from calls import TOKEN, post_voice  # the Twilio side as bench/calls.py places its calls
from turn_paths import LineCall, TurnLog
from twilio.request_validator import RequestValidator

from ivr.audio.codec import FRAME_SAMPLES, SAMPLE_RATE, pcm16_to_bytes, resample, ulaw_encode
from ivr.telephony.audiosocket import HEADER, Kind, encode_audio, encode_dtmf, encode_hangup, encode_uuid

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 240.0  # the first start pre-renders every prompt (~40 s) after loading the models (~15 s)


def start_server(port: int, audiosocket_port: int, turn_log: Path | None, stderr: Path,
                 env_extra: dict[str, str] | None = None) -> subprocess.Popen:
    """``ivr serve`` on 127.0.0.1 (Twilio stream mode, the bench token, AudioSocket if a port is
    given), writing its turn log to ``turn_log`` if one is named. ``env_extra`` overrides any of
    it (bench/text_load.py runs gather mode)."""
    env = {**os.environ, "IVR_TWILIO_AUTH_TOKEN": TOKEN, "IVR_PUBLIC_URL": f"http://127.0.0.1:{port}",
           "IVR_TWILIO_MODE": "stream", "IVR_AUDIOSOCKET_PORT": str(audiosocket_port), "IVR_HOST": "127.0.0.1",
           **(env_extra or {})}
    if turn_log is not None:
        env["IVR_TURN_LOG"] = str(turn_log)
        turn_log.unlink(missing_ok=True)
    server = subprocess.Popen([str(ROOT / ".venv" / "bin" / "ivr"), "serve", "--host", "127.0.0.1",
                               "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                              stderr=stderr.open("wb"))  # a file: an unread pipe would fill and stall it
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                return server
        except OSError:
            if server.poll() is not None:
                raise RuntimeError(stderr.read_text(errors="replace")[-2000:]) from None
            time.sleep(0.5)
    server.kill()
    raise RuntimeError(f"server did not start in {START_TIMEOUT_S:.0f} s")


def stop_server(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(10)


class TwilioCall(LineCall):
    """A Media Streams call: signed webhook, signed websocket, one-time token; μ-law frames in
    real time; every mark echoed back when it arrives (our side plays nothing, so the audio before
    it has been "played")."""

    path = "twilio"

    def __init__(self, n: int, condition: str, seed: int, log: TurnLog, port: int) -> None:
        super().__init__(f"CA{seed:08d}{n:024d}", condition, seed, log.turns)
        self.base = f"http://127.0.0.1:{port}"
        self.stream_sid = f"MZ{seed:08d}{n:024d}"

    async def connect(self) -> None:
        url, token = await asyncio.to_thread(post_voice, self.base, self.call_id)
        signature = RequestValidator(TOKEN).compute_signature(url, {})
        self.ws = await websockets.connect(url.replace("wss://", "ws://"), max_size=2**20,
                                           additional_headers={"X-Twilio-Signature": signature})
        await self.ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
        await self.ws.send(json.dumps({"event": "start", "sequenceNumber": "1", "streamSid": self.stream_sid,
                                       "start": {"streamSid": self.stream_sid, "callSid": self.call_id,
                                                 "accountSid": "ACbench", "tracks": ["inbound"],
                                                 "customParameters": {"token": token},
                                                 "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000,
                                                                 "channels": 1}}}))

    async def send_frame(self, frame: np.ndarray) -> None:
        payload = base64.b64encode(ulaw_encode(frame)).decode()
        await self.ws.send(json.dumps({"event": "media", "streamSid": self.stream_sid,
                                       "media": {"track": "inbound", "payload": payload}}))

    async def send_key(self, key: str) -> None:
        await self.ws.send(json.dumps({"event": "dtmf", "streamSid": self.stream_sid,
                                       "dtmf": {"track": "inbound_track", "digit": key}}))

    async def listen(self) -> None:
        async for raw in self.ws:
            msg = json.loads(raw)
            if msg["event"] == "media":
                self.bot_frame()
            elif msg["event"] == "mark":
                await self.ws.send(json.dumps({"event": "mark", "streamSid": self.stream_sid, "mark": msg["mark"]}))

    async def close(self) -> None:
        try:
            await self.ws.send(json.dumps({"event": "stop", "streamSid": self.stream_sid,
                                           "stop": {"callSid": self.call_id}}))
            await self.ws.close()
        except Exception:
            pass  # already closed by the server (a transfer or a goodbye)


class AudioSocketCall(LineCall):
    """An Asterisk AudioSocket() call: the UUID frame, then 320-byte slin frames every 20 ms; the
    hang-up frame at the end. No marks: Asterisk plays what it is sent."""

    path = "audiosocket"

    def __init__(self, n: int, condition: str, seed: int, log: TurnLog, port: int) -> None:
        self.uuid = uuid.UUID(int=(seed << 64) | n)
        super().__init__(str(self.uuid), condition, seed, log.turns)
        self.port = port

    async def connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer.write(encode_uuid(self.uuid))
        await self.writer.drain()

    async def send_frame(self, frame: np.ndarray) -> None:
        self.writer.write(encode_audio(frame))
        await self.writer.drain()

    async def send_key(self, key: str) -> None:
        self.writer.write(encode_dtmf(key))
        await self.writer.drain()

    async def listen(self) -> None:
        while True:
            kind, length = HEADER.unpack(await self.reader.readexactly(HEADER.size))
            await self.reader.readexactly(length)
            if kind == Kind.HANGUP:
                return
            if kind == Kind.AUDIO:
                self.bot_frame()

    async def close(self) -> None:
        try:
            self.writer.write(encode_hangup())
            await self.writer.drain()
            self.writer.close()
        except Exception:
            pass  # the server closed it first


class WebCall(LineCall):
    """The browser test call (``/call/ws``) as the page speaks it: ``start`` at the AudioContext's
    rate (48 kHz, Chrome's usual), then the microphone as 20 ms frames of 960 int16 samples in real
    time — the clip's 8 kHz audio upsampled with soxr, whole, so frame i carries the same 20 ms as
    the other paths' frame i. The bot's audio comes back as binary 8 kHz frames; each
    ``prompt_done`` is answered with its ``mark`` when it arrives (the audio before it has all been
    received; our side plays nothing, as TwilioCall echoes marks). The server names the call: the
    id in ``ready`` is the one in its turn log."""

    path = "web"
    rate = 48000
    frame_samples = FRAME_SAMPLES * rate // SAMPLE_RATE

    def __init__(self, n: int, condition: str, seed: int, log: TurnLog, port: int) -> None:
        super().__init__(f"web{seed:08d}-{n}", condition, seed, log.turns)  # until the server's `ready`
        self.url = f"ws://127.0.0.1:{port}/call/ws"
        self.errors: list[str] = []  # the server's `error` events (a refused frame would show here)

    def line_pcm(self, pcm: np.ndarray) -> np.ndarray:
        up = resample(pcm, SAMPLE_RATE, self.rate)
        n = len(pcm) // FRAME_SAMPLES * self.frame_samples
        return np.concatenate([up[:n], np.zeros(max(0, n - len(up)), np.int16)])

    async def connect(self) -> None:
        self.ws = await websockets.connect(self.url, max_size=2**20)
        await self.ws.send(json.dumps({"type": "start", "rate": self.rate}))
        while True:  # `ready` comes before any audio
            msg = json.loads(await asyncio.wait_for(self.ws.recv(), 30))
            if msg.get("type") == "ready":
                self.call_id = str(msg["call_id"])
                return
            if msg.get("type") == "error":
                raise RuntimeError(f"web call refused: {msg.get('message')}")

    async def send_frame(self, frame: np.ndarray) -> None:
        await self.ws.send(pcm16_to_bytes(frame))

    async def send_key(self, key: str) -> None:
        await self.ws.send(json.dumps({"type": "dtmf", "digit": key}))

    async def listen(self) -> None:
        async for raw in self.ws:
            if isinstance(raw, bytes):
                self.bot_frame()
                continue
            msg = json.loads(raw)
            if msg["type"] == "prompt_done":
                await self.ws.send(json.dumps({"type": "mark", "prompt": msg["prompt"]}))
            elif msg["type"] == "error":
                self.errors.append(str(msg.get("message", "")))

    async def close(self) -> None:
        if self.errors:  # a bad frame would be dropped by the server: the figures would not be the page's
            print(f"    call {self.call_id}: {len(self.errors)} error events, e.g. {self.errors[0]!r}", flush=True)
        try:
            await self.ws.send(json.dumps({"type": "hangup"}))
            await self.ws.close()
        except Exception:
            pass  # already closed by the server (a transfer or a goodbye)
