"""Twilio Media Streams end to end: a real uvicorn server, websocket clients speaking Twilio's protocol.

Nothing of ours is mocked: the server is ``create_app`` on the real models (Whisper, Silero,
pyopenjtalk); the fake Twilio side sends TTS-made caller speech as base64 μ-law, echoes our marks
as Twilio does once audio has played (our audio arrives paced in real time, so receipt ≈ playout),
and its recordings of the bot are transcribed with the same Whisper to check what was said.
Callers talk over the long greeting (barge-in), as real callers do, which keeps the tests short.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import json
import time
import xml.etree.ElementTree as ET

import httpx
import numpy as np
import pytest
from rapidfuzz import fuzz
from twilio.request_validator import RequestValidator
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from conftest import cached_voice, uvicorn_thread
from ivr.audio.codec import FRAME_SAMPLES, SAMPLE_RATE, ulaw_decode, ulaw_encode
from ivr.language.readings import reading
from ivr.server.app import create_app

TOKEN = "test-auth-token"
PUBLIC = "https://ivr.example.test"
MEDIA_URL = "wss://ivr.example.test/twilio/media"
STAFF = "+81742340000"
CALL_TIMEOUT_S = 120.0  # generous: ASR is ~1 s an utterance on 2 cores (slower when the machine is busy)
SIMILAR = 70  # rapidfuzz partial_ratio of kana readings: Whisper on 8 kHz TTS gets most morae right


def sign(path: str, params: dict[str, str]) -> dict[str, str]:
    return {"X-Twilio-Signature": RequestValidator(TOKEN).compute_signature(PUBLIC + path, params)}


@pytest.fixture(scope="module")
def runtime(server_runtime):
    """The shared runtime with a staff number (transfers → <Dial>) and its own calls table."""
    settings = server_runtime.settings.model_copy(update={"staff_number": STAFF})
    return dataclasses.replace(server_runtime, settings=settings, calls={})


@pytest.fixture(scope="module")
def base_url(runtime):
    """uvicorn on a free port in a thread: real sockets, real concurrency, its own event loop."""
    with uvicorn_thread(create_app(runtime)) as host:
        yield host


@pytest.fixture(scope="module")
def voice(runtime):
    """Caller speech made with our TTS, 8 kHz int16, cached per text."""
    return cached_voice(runtime.speech)


async def answer_call(base_url: str, call_sid: str) -> str:
    """POST /twilio/voice as Twilio does; returns the one-time stream token from the TwiML."""
    params = {"CallSid": call_sid, "From": "+819012345678", "To": "+81742000000", "AccountSid": "AC" + "0" * 32}
    async with httpx.AsyncClient(base_url=f"http://{base_url}") as client:
        r = await client.post("/twilio/voice", data=params, headers=sign("/twilio/voice", params))
    assert r.status_code == 200, r.text
    stream = ET.fromstring(r.text).find("./Connect/Stream")
    assert stream is not None and stream.get("url") == MEDIA_URL
    return next(p.get("value") for p in stream.iter("Parameter") if p.get("name") == "token")


async def after_stream(base_url: str, call_sid: str) -> ET.Element:
    params = {"CallSid": call_sid, "AccountSid": "AC" + "0" * 32}
    async with httpx.AsyncClient(base_url=f"http://{base_url}") as client:
        r = await client.post("/twilio/after-stream", data=params, headers=sign("/twilio/after-stream", params))
    assert r.status_code == 200, r.text
    return ET.fromstring(r.text)


class FakeTwilio:
    """Twilio's side of one media stream: sends caller audio, records the bot, echoes marks."""

    def __init__(self, ws: ClientConnection, call_sid: str) -> None:
        self.ws = ws
        self.call_sid = call_sid
        self.stream_sid = "MZ" + call_sid[2:]
        self.audio = bytearray()  # every μ-law byte the bot sent
        self.prompts: dict[str, bytes] = {}  # mark name → the audio played since the last mark/clear
        self.clears: list[float] = []
        self.media_times: list[float] = []
        self.close_code: int | None = None
        self._segment = 0
        self._seq = 0
        self._changed = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, base_url: str, call_sid: str, signature: str | None = None):
        headers = {"X-Twilio-Signature": signature or RequestValidator(TOKEN).compute_signature(MEDIA_URL, {})}
        async with connect(f"ws://{base_url}/twilio/media", additional_headers=headers, proxy=None) as ws:
            twilio = cls(ws, call_sid)
            try:
                yield twilio
            finally:
                twilio._reader.cancel()

    async def _send(self, event: str, **body: object) -> None:
        self._seq += 1
        msg = {"event": event, "sequenceNumber": str(self._seq), "streamSid": self.stream_sid, **body}
        with contextlib.suppress(ConnectionClosed):
            await self.ws.send(json.dumps(msg))

    async def start(self, token: str | None) -> None:
        await self.ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
        params = {"from": "+819012345678"} | ({"token": token} if token is not None else {})
        await self._send("start", start={
            "streamSid": self.stream_sid, "accountSid": "AC" + "0" * 32, "callSid": self.call_sid,
            "tracks": ["inbound"], "customParameters": params,
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}})

    async def say(self, pcm: np.ndarray, paced: bool = False, silence_ms: int = 1000) -> None:
        """Caller audio then silence (so the endpointer ends the turn), in 160-byte payloads."""
        pcm = np.concatenate([pcm, np.zeros(SAMPLE_RATE * silence_ms // 1000, dtype=np.int16)])
        for i in range(0, len(pcm) - FRAME_SAMPLES + 1, FRAME_SAMPLES):
            payload = base64.b64encode(ulaw_encode(pcm[i:i + FRAME_SAMPLES])).decode()
            await self._send("media", media={"track": "inbound", "chunk": str(i // FRAME_SAMPLES + 1),
                                             "timestamp": str(i // 8), "payload": payload})
            if paced:
                await asyncio.sleep(FRAME_SAMPLES / SAMPLE_RATE)

    async def dtmf(self, digit: str) -> None:
        await self._send("dtmf", dtmf={"track": "inbound_track", "digit": digit})

    async def stop(self) -> None:
        await self._send("stop", stop={"accountSid": "AC" + "0" * 32, "callSid": self.call_sid})

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                msg = json.loads(raw)
                assert msg.get("streamSid") == self.stream_sid, msg
                if msg["event"] == "media":
                    self.audio += base64.b64decode(msg["media"]["payload"])
                    self.media_times.append(time.monotonic())
                elif msg["event"] == "mark":
                    name = msg["mark"]["name"]
                    self.prompts[name] = bytes(self.audio[self._segment:])
                    self._segment = len(self.audio)
                    await self._send("mark", mark={"name": name})  # "played": echo it, as Twilio does
                elif msg["event"] == "clear":
                    self.clears.append(time.monotonic())
                    self._segment = len(self.audio)
                self._changed.set()
        except ConnectionClosed:
            pass
        finally:
            self.close_code = self.ws.close_code
            self._changed.set()

    async def until(self, check, timeout: float = CALL_TIMEOUT_S) -> None:
        async with asyncio.timeout(timeout):
            while True:
                self._changed.clear()
                if check():
                    return
                if self.close_code is not None:
                    raise AssertionError(f"closed ({self.close_code}) before the condition held")
                await self._changed.wait()

    def playing(self) -> int:
        """Bytes of the prompt now playing (since the last mark or clear)."""
        return len(self.audio) - self._segment

    def pcm(self, mark: str, seconds: float | None = None) -> np.ndarray:
        data = self.prompts[mark]
        return ulaw_decode(data[:int(seconds * SAMPLE_RATE)] if seconds else data)


async def assert_says(runtime, pcm: np.ndarray, expected: str) -> None:
    heard = (await runtime.speech.asr.transcribe(pcm)).text
    score = fuzz.partial_ratio(reading(expected), reading(heard))
    assert score >= SIMILAR, f"expected {expected!r} in the bot's audio, Whisper heard {heard!r} ({score:.0f})"


async def wait_gone(runtime, call_sid: str) -> None:
    async with asyncio.timeout(10):
        while call_sid in runtime.calls:
            await asyncio.sleep(0.05)


@pytest.mark.asyncio
async def test_streamed_call_end_to_end(runtime, base_url, voice):
    """A question over the greeting, the answer, then 0 during it → transfer notice → <Dial>."""
    sid = "CA" + "e2e".ljust(32, "0")
    token = await answer_call(base_url, sid)
    async with FakeTwilio.open(base_url, sid) as twilio:
        await twilio.start(token)
        await twilio.until(lambda: len(twilio.audio) >= 8000)  # a second of the greeting
        assert sid in runtime.calls
        await twilio.say(voice("冷蔵庫を捨てたい"), paced=True)
        await twilio.until(lambda: len(twilio.clears) == 1)  # talking over the greeting clears it
        await twilio.until(lambda: twilio.playing() >= 9 * SAMPLE_RATE)  # the answer's first sentence
        await assert_says(runtime, ulaw_decode(twilio.audio[-twilio.playing():]), "家電リサイクル法の対象です")

        await twilio.dtmf("0")  # the caller does not wait for the end of the answer
        await twilio.until(lambda: twilio.close_code is not None)
        assert len(twilio.clears) == 2 and twilio.close_code == 1000
        assert "prompt-1" not in twilio.prompts and "prompt-2" not in twilio.prompts  # both were cut short
        assert "prompt-3" in twilio.prompts  # the notice was played (and heard) before the stream closed
        await assert_says(runtime, twilio.pcm("prompt-3"), "職員におつなぎします")
    await wait_gone(runtime, sid)
    dial = (await after_stream(base_url, sid)).find("Dial")
    assert dial is not None and dial.text == STAFF


@pytest.mark.asyncio
async def test_barge_in_clears_and_stops_the_prompt(runtime, base_url, voice):
    sid = "CA" + "barge".ljust(32, "0")
    token = await answer_call(base_url, sid)
    async with FakeTwilio.open(base_url, sid) as twilio:
        await twilio.start(token)
        await twilio.until(lambda: len(twilio.audio) >= 4000)
        # 3 s of speech, paced: the bot must fall silent well before the caller stops talking
        talking = asyncio.create_task(twilio.say(voice("すみません、スプレー缶とライターは、何ごみになりますか"),
                                                 paced=True, silence_ms=0))
        await twilio.until(lambda: bool(twilio.clears), timeout=30)
        cleared = twilio.clears[0]
        await talking
        assert len(twilio.clears) == 1
        late = [t for t in twilio.media_times if t > cleared + 0.1]
        assert len(late) <= 1, f"{len(late)} frames of the greeting after clear"  # ≤ 1: a frame already due
        assert "prompt-1" not in twilio.prompts
        await twilio.stop()
        await twilio.until(lambda: twilio.close_code is not None, timeout=10)
    await wait_gone(runtime, sid)


@pytest.mark.asyncio
async def test_unauthenticated_sockets_are_refused(runtime, base_url):
    # no signature / a signature of another URL: refused at the handshake (HTTP 403)
    for signature in ("", RequestValidator(TOKEN).compute_signature("wss://evil.example/twilio/media", {})):
        with pytest.raises(InvalidStatus) as refused:
            async with connect(f"ws://{base_url}/twilio/media", proxy=None,
                               additional_headers={"X-Twilio-Signature": signature} if signature else None):
                pass
        assert refused.value.response.status_code == 403

    issued = await answer_call(base_url, "CA" + "real".ljust(32, "0"))
    cases = {
        "CA" + "notoken".ljust(32, "0"): None,
        "CA" + "wrongtoken".ljust(32, "0"): "not-the-token",
        "CA" + "othercall".ljust(32, "0"): issued,  # a real token, but issued to another call
    }
    for sid, token in cases.items():
        async with FakeTwilio.open(base_url, sid) as twilio:
            await twilio.start(token)
            await twilio.until(lambda t=twilio: t.close_code is not None, timeout=10)
            assert twilio.close_code == 1008
            assert not twilio.audio, "a refused socket must not get a greeting"
        assert sid not in runtime.calls

    # a token works once: the call it was issued to, then never again
    sid = "CA" + "replay".ljust(32, "0")
    token = await answer_call(base_url, sid)
    async with FakeTwilio.open(base_url, sid) as twilio:
        await twilio.start(token)
        await twilio.until(lambda: len(twilio.audio) > 0)
        await twilio.stop()
    async with FakeTwilio.open(base_url, sid) as replay:
        await replay.start(token)
        await replay.until(lambda: replay.close_code is not None, timeout=10)
        assert replay.close_code == 1008 and not replay.audio


@pytest.mark.asyncio
async def test_malformed_messages_harm_only_their_socket(runtime, base_url, voice, caplog):
    bad_sid, good_sid = "CA" + "garbage".ljust(32, "0"), "CA" + "good".ljust(32, "0")
    bad_token, good_token = await answer_call(base_url, bad_sid), await answer_call(base_url, good_sid)

    async def garbage() -> FakeTwilio:
        async with FakeTwilio.open(base_url, bad_sid) as twilio:
            silence = base64.b64encode(bytes([0xFF]) * 160).decode()
            await twilio._send("media", media={"track": "inbound", "payload": silence})  # before start
            await twilio.ws.send("{not json")
            await twilio.ws.send(b"\x00\x01binary")
            await twilio.start(bad_token)
            await twilio.until(lambda: len(twilio.audio) > 0)
            await twilio.ws.send("[1, 2, 3]")
            await twilio._send("bogus", bogus={})
            await twilio._send("media", media={"track": "inbound", "payload": "!!not base64!!"})
            await twilio._send("media", media={"track": "inbound"})
            await twilio._send("mark", mark={"name": "not-ours"})
            await twilio._send("dtmf", dtmf={"digit": "xyz"})
            for size in (7, 333, 1, 159, 2000):  # odd sizes are re-framed, not refused
                payload = base64.b64encode(bytes([0xFF]) * size).decode()
                await twilio._send("media", media={"track": "inbound", "payload": payload})
            await twilio.dtmf("0")  # still alive: it gets the transfer notice and is closed normally
            await twilio.until(lambda: twilio.close_code is not None)
            return twilio

    async def good() -> FakeTwilio:
        async with FakeTwilio.open(base_url, good_sid) as twilio:
            await twilio.start(good_token)
            await twilio.until(lambda: len(twilio.audio) > 0)
            await twilio.say(voice("スプレー缶の捨て方"))
            await twilio.until(lambda: "prompt-2" in twilio.prompts)
            await twilio.say(voice("ありがとう、さようなら"))  # the bot says goodbye and ends the stream
            await twilio.until(lambda: twilio.close_code is not None)
            return twilio

    bad, ok = await asyncio.gather(garbage(), good())
    assert bad.close_code == 1000 and "prompt-2" in bad.prompts
    assert ok.close_code == 1000
    ignored = [r.getMessage() for r in caplog.records if "ignoring a bad message" in r.getMessage()]
    assert any("media before start" in m for m in ignored) and any("not JSON" in m for m in ignored)
    await assert_says(runtime, ok.pcm("prompt-2"), "燃やせないごみです")
    assert (await after_stream(base_url, good_sid)).find("Hangup") is not None
    assert (await after_stream(base_url, bad_sid)).find("Dial") is not None
    await wait_gone(runtime, bad_sid)
    await wait_gone(runtime, good_sid)


@pytest.mark.asyncio
async def test_ten_simultaneous_calls(runtime, base_url, voice):
    questions = [("電子レンジを捨てたい", "大型ごみです"), ("スプレー缶の捨て方", "燃やせないごみです"),
                 ("ライターを捨てたい", "燃やせないごみです")]
    for text, _ in questions:
        voice(text)  # synthesise the callers' audio before the clock starts

    async def caller(i: int) -> FakeTwilio:
        sid = "CA" + f"many{i}".ljust(32, "0")
        token = await answer_call(base_url, sid)
        async with FakeTwilio.open(base_url, sid) as twilio:
            await twilio.start(token)
            await twilio.until(lambda: len(twilio.audio) > 0)
            await twilio.say(voice(questions[i % 3][0]))
            await twilio.until(lambda: "prompt-2" in twilio.prompts)
            await twilio.stop()
            return twilio

    started = time.monotonic()
    calls = await asyncio.wait_for(asyncio.gather(*(caller(i) for i in range(10))), CALL_TIMEOUT_S)
    elapsed = time.monotonic() - started
    for twilio in calls:
        assert twilio.clears and len(twilio.prompts["prompt-2"]) > SAMPLE_RATE
    for i in range(3):
        await assert_says(runtime, calls[i].pcm("prompt-2", seconds=4), questions[i][1])
    for twilio in calls:
        await wait_gone(runtime, twilio.call_sid)
    print(f"10 calls answered in {elapsed:.1f} s")


@pytest.mark.asyncio
async def test_the_phone_path_hears_a_clip_as_the_simulator_does(runtime, base_url, brain, tmp_path):
    """The caller listens to the whole greeting (silence frames paced like Twilio, the mark
    echoed), then asks: Whisper gets the same turn, first mora included, as through the
    simulator's path, which feeds the same clip to a fresh call."""
    from conftest import line_audio, simulated_turns
    from ivr.dialogue import prompts
    from ivr.speech.turn_log import TurnLog

    clip = np.concatenate([np.zeros(4000, np.int16), line_audio("ペットボトルって何ごみですか")])
    log = tmp_path / "turns.jsonl"
    runtime.speech.turn_log = TurnLog(log)
    sid = "CA" + "samepath".ljust(32, "0")
    try:
        token = await answer_call(base_url, sid)
        async with FakeTwilio.open(base_url, sid) as twilio:
            await twilio.start(token)
            while "prompt-1" not in twilio.prompts:  # the line is open and silent while the greeting plays
                await twilio.say(np.zeros(SAMPLE_RATE, np.int16), paced=True, silence_ms=0)
            await twilio.say(clip, paced=True, silence_ms=2500)
            await twilio.until(lambda: log.exists() and '"speech"' in log.read_text())
            while "prompt-2" not in twilio.prompts:  # the answer, heard to its end (「ほかに、ご質問は…」)
                await twilio.say(np.zeros(SAMPLE_RATE // 2, np.int16), paced=True, silence_ms=0)
            await twilio.say(line_audio("はい"), paced=True, silence_ms=2500)  # a short answer, after the question
            await twilio.until(lambda: log.read_text().count('"speech"') >= 2)
            await twilio.stop()
    finally:
        runtime.speech.turn_log = None
    phone = [json.loads(line) for line in log.read_text().splitlines() if '"speech"' in line]
    hai = phone.pop()
    assert reading(hai["transcript"]) == "ハイ" and hai["reply"] == prompts.GO_AHEAD, hai

    sim = await simulated_turns(brain, runtime.speech, clip)
    assert len(phone) == 1 and len(sim) == 1, (phone, sim)
    assert abs(phone[0]["audio_ms"] - sim[0].audio_ms) <= 100, (phone[0], sim[0].audio_ms)
    assert fuzz.ratio(reading(phone[0]["transcript"]), reading(sim[0].transcript)) >= 90, (phone[0], sim[0])
    assert reading(phone[0]["transcript"]).startswith("ペット"), phone[0]
