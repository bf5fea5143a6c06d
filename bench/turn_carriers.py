"""The carriers of bench/turns.py's server paths: a real ``ivr serve`` and a caller on Twilio Media
Streams or Asterisk AudioSocket, speaking each protocol as the carrier does (after bench/calls.py
and tests/test_audiosocket.py).

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

from ivr.audio.codec import ulaw_encode
from ivr.telephony.audiosocket import HEADER, Kind, encode_audio, encode_hangup, encode_uuid

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 240.0  # the first start pre-renders every prompt (~40 s) after loading the models (~15 s)


def start_server(port: int, audiosocket_port: int, turn_log: Path | None, stderr: Path) -> subprocess.Popen:
    """``ivr serve`` on 127.0.0.1 (Twilio stream mode, the bench token, AudioSocket if a port is
    given), writing its turn log to ``turn_log`` if one is named."""
    env = {**os.environ, "IVR_TWILIO_AUTH_TOKEN": TOKEN, "IVR_PUBLIC_URL": f"http://127.0.0.1:{port}",
           "IVR_TWILIO_MODE": "stream", "IVR_AUDIOSOCKET_PORT": str(audiosocket_port), "IVR_HOST": "127.0.0.1"}
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
