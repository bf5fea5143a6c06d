"""The browser test call end to end: the protocol as plain data, then a real uvicorn server and
websocket clients speaking the ``/call`` page's protocol.

Nothing of ours is mocked: the server is ``create_app`` on the real models (Whisper, Silero,
pyopenjtalk, the Nara knowledge base). The fake page streams 20 ms frames of silence at 48 kHz in
real time, as the page's AudioWorklet does all call long, answers ``prompt_done`` with ``mark``
as the page does once a prompt has played, and asks its questions typed (the page's text box),
which barge in over the long greeting at once and keep the tests short and deterministic.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import re
import time
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import httpx
import numpy as np
import pytest
from twilio.request_validator import RequestValidator
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from conftest import uvicorn_thread
from ivr.server.app import create_app
from ivr.telephony import webcall
from ivr.telephony.webcall_protocol import (
    ARRIVAL_BURST_FRAMES,
    MAX_TEXT_CHARS,
    MAX_TYPED_CHARS,
    ArrivalLimiter,
    Audio,
    Dtmf,
    Hangup,
    InboundAudio,
    Mark,
    ProtocolError,
    Start,
    Typed,
    parse_message,
)

RATE = 48000
FRAME_BYTES = RATE // 50 * 2  # 20 ms of int16 mono at 48 kHz: 1,920 bytes
SILENCE = bytes(FRAME_BYTES)
BOT_FRAME_BYTES = 320  # 160 int16 samples at 8 kHz
WEB_TOKEN = "web-test-token-0123456789"
TWILIO_TOKEN = "test-auth-token"  # server_runtime's settings
PUBLIC = "https://ivr.example.test"
STAFF = "+81742340000"
FRIDGE = "冷蔵庫は何ごみですか"
SPRAY = "スプレー缶の捨て方"
WAIT_S = 60.0  # generous: a turn is ~1 s, but the 2-core machine may be busy with another call's TTS


# --- the protocol without sockets --------------------------------------------------------------


@pytest.mark.parametrize(("text", "data", "expected"), [
    ('{"type": "start", "rate": 48000}', None, Start(48000)),
    ('{"type": "start", "rate": 44100}', None, Start(44100)),
    ('{"type": "dtmf", "digit": "0"}', None, Dtmf("0")),
    ('{"type": "dtmf", "digit": "#"}', None, Dtmf("#")),
    ('{"type": "text", "text": "  冷蔵庫は何ごみですか \\n"}', None, Typed(FRIDGE)),
    ('{"type": "mark", "prompt": 3}', None, Mark(3)),
    ('{"type": "hangup"}', None, Hangup()),
    (None, SILENCE, Audio(SILENCE)),
])
def test_parse_good_messages(text, data, expected):
    assert parse_message(text, data) == expected


@pytest.mark.parametrize(("text", "data", "why"), [
    ("{not json", None, "not JSON"),
    ("[1, 2, 3]", None, "JSON object"),
    ('"start"', None, "JSON object"),
    ('{"type": "bogus"}', None, "unknown message type"),
    ('{"rate": 48000}', None, "unknown message type"),
    ('{"type": "start"}', None, "rate"),
    ('{"type": "start", "rate": 12345}', None, "rate"),
    ('{"type": "start", "rate": "48000"}', None, "rate"),
    ('{"type": "start", "rate": 48000.0}', None, "rate"),
    ('{"type": "start", "rate": true}', None, "rate"),
    ('{"type": "dtmf", "digit": "x"}', None, "digit"),
    ('{"type": "dtmf", "digit": "12"}', None, "digit"),
    ('{"type": "dtmf", "digit": 1}', None, "digit"),
    ('{"type": "dtmf"}', None, "digit"),
    ('{"type": "text", "text": ""}', None, "non-empty"),
    ('{"type": "text", "text": "   \\n "}', None, "non-empty"),
    ('{"type": "text", "text": 5}', None, "non-empty"),
    ('{"type": "mark", "prompt": -1}', None, "prompt"),
    ('{"type": "mark", "prompt": "1"}', None, "prompt"),
    ('{"type": "mark", "prompt": false}', None, "prompt"),
    (json.dumps({"type": "text", "text": "あ" * (MAX_TEXT_CHARS + 1)}), None, "characters"),
    (None, None, "empty"),
])
def test_parse_bad_messages(text, data, why):
    with pytest.raises(ProtocolError, match=why):
        parse_message(text, data)


def test_a_long_typed_turn_is_cut_to_the_typed_limit():
    msg = parse_message(json.dumps({"type": "text", "text": "か" * (MAX_TYPED_CHARS + 100)}), None)
    assert isinstance(msg, Typed) and msg.text == "か" * MAX_TYPED_CHARS


def tone(rate: int, seconds: float, hz: float = 1000.0, level: float = 0.3) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return np.rint(np.sin(2 * np.pi * hz * t) * level * 32767).astype("<i2")


@pytest.mark.parametrize("rate", [48000, 44100, 16000])
def test_inbound_audio_is_the_phone_line(rate):
    """Browser frames at the page's rate → 160-sample 8 kHz frames after μ-law; a 1 kHz tone keeps
    its pitch and level (no clicks at frame edges: streaming soxr is one continuous filter)."""
    inbound = InboundAudio(rate)
    assert inbound.frame_bytes == rate // 50 * 2
    pcm = tone(rate, 1.0)
    step = rate // 50
    out: list[np.ndarray] = []
    for n, i in enumerate(range(0, len(pcm), step), start=1):
        out += inbound.push(pcm[i:i + step].tobytes())
        # soxr works in blocks (HQ held ~145 ms at 48 kHz, and every turn's end waited for it): at
        # RESAMPLE_QUALITY the line lags by no more than 80 ms
        assert n - 4 <= len(out) <= n
    assert all(f.dtype == np.int16 and f.shape == (160,) for f in out)
    line = np.concatenate(out)[800:].astype(np.float64)  # past the filter's start-up
    spectrum = np.abs(np.fft.rfft(line * np.hanning(len(line))))
    peak_hz = np.argmax(spectrum) * 8000 / len(line)
    assert abs(peak_hz - 1000) < 15, peak_hz
    rms = np.sqrt(np.mean(line ** 2))
    expected = 0.3 * 32767 / np.sqrt(2)
    assert abs(rms - expected) / expected < 0.05, (rms, expected)
    # everything but the tone is μ-law noise: well below the tone
    residual = spectrum.copy()
    k = int(np.argmax(spectrum))
    residual[max(0, k - 8):k + 9] = 0
    assert residual.max() < spectrum[k] / 100


def test_inbound_audio_refuses_other_sizes_and_rates():
    inbound = InboundAudio(48000)
    for size in (0, 2, 960, FRAME_BYTES - 2, FRAME_BYTES + 2, 3840):
        with pytest.raises(ProtocolError, match="1920"):
            inbound.push(bytes(size))
    assert len(inbound.push(SILENCE)) <= 1  # and it still works after a refusal
    with pytest.raises(ProtocolError):
        InboundAudio(11025)


def test_arrival_limiter_allows_a_burst_then_real_time():
    now = [0.0]  # steps of 1/8 s: exact in binary floating point
    limiter = ArrivalLimiter(clock=lambda: now[0])
    assert all(limiter.allow() for _ in range(ARRIVAL_BURST_FRAMES))
    assert not limiter.allow() and not limiter.allow()
    now[0] += 0.125  # 125 ms of real time: 6.25 frames' worth
    assert sum(limiter.allow() for _ in range(20)) == 6
    now[0] += 0.125  # 0.25 left over + 6.25
    assert sum(limiter.allow() for _ in range(20)) == 6
    now[0] += 3600  # an hour idle refills only up to the burst
    assert sum(limiter.allow() for _ in range(500)) == ARRIVAL_BURST_FRAMES
    # with the burst spent, frames at real time (20 ms apart) still get through
    allowed = 0
    for _ in range(500):
        now[0] += 0.02
        allowed += limiter.allow()
    assert allowed >= 499


# --- a real server --------------------------------------------------------------------------


def serving(runtime):
    """``create_app`` on a real uvicorn server in a thread (loopback, so the page may call)."""
    return uvicorn_thread(create_app(runtime))


def web_runtime(server_runtime, state_dir, **update):
    settings = server_runtime.settings.model_copy(update={
        "webcall_token": WEB_TOKEN, "staff_number": STAFF, "state_dir": state_dir, **update})
    return dataclasses.replace(server_runtime, settings=settings, calls={})


@pytest.fixture(scope="module")
def runtime(server_runtime, tmp_path_factory):
    # as `Runtime.load` does at start-up: the NLU's lazy parts load now, not in the first call
    server_runtime.brain.nlu.parse("あの、冷蔵庫は何ごみですか", server_runtime.clock().date())
    return web_runtime(server_runtime, tmp_path_factory.mktemp("state"))


@pytest.fixture(scope="module")
def base_url(runtime):
    with serving(runtime) as url:
        yield url


class Page:
    """The ``/call`` page's side of one websocket: records events and the bot's audio, answers
    ``prompt_done`` with ``mark`` (the prompt has played), streams silence when asked to."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.events: list[dict] = []
        self.audio = bytearray()
        self.frame_sizes: set[int] = set()
        self.close_code: int | None = None
        self._changed = asyncio.Event()
        self._reader = asyncio.create_task(self._read())
        self._feeder: asyncio.Task[None] | None = None

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, base_url: str, query: str = "", headers: dict[str, str] | None = None):
        async with connect(f"ws://{base_url}/call/ws{query}", proxy=None, additional_headers=headers,
                           max_size=2**20) as ws:
            page = cls(ws)
            try:
                yield page
            finally:
                if page._feeder is not None:
                    page._feeder.cancel()
                page._reader.cancel()

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                if isinstance(raw, bytes):
                    self.audio += raw
                    self.frame_sizes.add(len(raw))
                else:
                    msg = json.loads(raw)
                    self.events.append(msg)
                    if msg["type"] == "prompt_done":
                        await self.send("mark", prompt=msg["prompt"])
                self._changed.set()
        except ConnectionClosed:
            pass
        finally:
            self.close_code = self.ws.close_code
            self._changed.set()

    async def send(self, kind: str, **fields: object) -> None:
        with contextlib.suppress(ConnectionClosed):
            await self.ws.send(json.dumps({"type": kind, **fields}, ensure_ascii=False))

    async def raw(self, message: str | bytes) -> None:
        with contextlib.suppress(ConnectionClosed):
            await self.ws.send(message)

    async def start(self, stream: bool = True) -> None:
        await self.send("start", rate=RATE)
        if stream:
            self._feeder = asyncio.create_task(self._stream_silence())

    async def _stream_silence(self) -> None:
        """The microphone, as the AudioWorklet sends it: one 20 ms frame every 20 ms."""
        started = time.monotonic()
        i = 0
        with contextlib.suppress(ConnectionClosed):
            while True:
                await self.ws.send(SILENCE)
                i += 1
                await asyncio.sleep(max(0.0, started + i * 0.02 - time.monotonic()))

    def of(self, kind: str) -> list[dict]:
        return [e for e in self.events if e["type"] == kind]

    def errors(self) -> list[str]:
        return [e["message"] for e in self.of("error")]

    async def until(self, check, timeout: float = WAIT_S) -> None:
        async with asyncio.timeout(timeout):
            while True:
                self._changed.clear()
                if check():
                    return
                if self.close_code is not None:
                    raise AssertionError(f"closed ({self.close_code}) before the condition held: {self.events}")
                await self._changed.wait()

    async def closed(self, timeout: float = WAIT_S) -> int:
        async with asyncio.timeout(timeout):
            while self.close_code is None:
                self._changed.clear()
                await self._changed.wait()
        return self.close_code

    async def answered(self) -> str:
        """``ready``, the greeting's turn and its first audio; returns the call id."""
        await self.until(lambda: bool(self.of("ready")))
        await self.until(lambda: any(t["kind"] == "greeting" for t in self.of("turn")) and len(self.audio) > 0)
        return self.of("ready")[0]["call_id"]

    async def ask(self, text: str) -> dict:
        """A typed turn; returns its ``turn`` event."""
        await self.send("text", text=text)
        await self.until(lambda: any(t["heard"] == text for t in self.of("turn")))
        return next(t for t in self.of("turn") if t["heard"] == text)


async def gone(runtime, call_id: str, timeout: float = 10) -> None:
    async with asyncio.timeout(timeout):
        while call_id in runtime.calls:
            await asyncio.sleep(0.02)


# --- calls end to end -------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_call_answered_typed_turn_dtmf_transfer(runtime, base_url):
    async with Page.open(base_url) as page:
        await page.start()
        call_id = await page.answered()
        ready = page.of("ready")[0]
        assert page.events[0] == ready and ready["rate"] == 8000 and call_id.startswith("web-")
        assert call_id in runtime.calls
        call = runtime.calls[call_id]
        greeting = next(t for t in page.of("turn") if t["kind"] == "greeting")
        assert greeting["reply"] and greeting["heard"] == ""

        turn = await page.ask(FRIDGE)  # over the greeting: it barges in
        assert turn["kind"] == "typed" and turn["intent"] == "kaden_four", turn
        assert "家電リサイクル" in turn["reply"] and turn["action"] in ("answer", "clarify")
        assert page.of("clear"), "a typed turn over the greeting stops it (clear)"
        heard_before = len(page.audio)
        await page.until(lambda: len(page.audio) >= heard_before + 8000 * 2)  # a second of the answer
        assert page.frame_sizes == {BOT_FRAME_BYTES}
        assert not page.errors()

        await page.send("dtmf", digit="0")  # staff, please: the notice, then the transfer
        await page.until(lambda: any(t["heard"] == "[DTMF 0]" for t in page.of("turn")))
        pressed = next(t for t in page.of("turn") if t["heard"] == "[DTMF 0]")
        assert "dtmf" in pressed["kind"] and pressed["action"] == "transfer", pressed
        assert any(e["kind"] == "transfer" for e in pressed["events"])
        assert await page.closed() == 1000
        transfer = page.of("transfer")
        assert len(transfer) == 1 and transfer[0]["message"] == webcall.TRANSFER_NOTICE
        assert page.events.index(transfer[0]) == len(page.events) - 1
        # the notice was played in full before the transfer: its prompt_done came (and was marked)
        assert page.of("prompt_done") and page.of("prompt_done")[-1]["prompt"] == pressed_prompt(page, pressed)
        assert not page.errors()
    await gone(runtime, call_id)
    assert call.ended


def pressed_prompt(page: Page, pressed: dict) -> int:
    """The prompt number of a turn: turns are spoken as prompts 1, 2, … in order."""
    return page.of("turn").index(pressed) + 1


@pytest.mark.asyncio
async def test_the_page_hangs_up(runtime, base_url):
    async with Page.open(base_url) as page:
        await page.start()
        call_id = await page.answered()
        call = runtime.calls[call_id]
        await page.send("hangup")
        assert await page.closed(timeout=10) == 1000
    await gone(runtime, call_id)
    assert call.ended and not page.errors()


@pytest.mark.asyncio
async def test_the_tab_closing_ends_the_call(runtime, base_url):
    async with Page.open(base_url) as page:
        await page.start()
        call_id = await page.answered()
        call = runtime.calls[call_id]
    await gone(runtime, call_id)  # no hangup message: the socket just went away
    assert call.ended


@pytest.mark.asyncio
async def test_bad_messages_are_reported_and_the_call_lives_on(runtime, base_url):
    async with Page.open(base_url) as page:
        await page.raw(SILENCE)  # audio before start
        await page.send("dtmf", digit="1")  # a key before start
        await page.raw("{not json")
        await page.until(lambda: len(page.errors()) == 3)
        assert "before start" in page.errors()[0] and "before start" in page.errors()[1]
        assert "not JSON" in page.errors()[2]
        assert not page.of("ready")

        await page.start()
        call_id = await page.answered()
        await page.raw(bytes(1000))  # not a 20 ms frame at 48 kHz
        await page.send("start", rate=RATE)
        await page.until(lambda: len(page.errors()) == 5)  # (the first five are all reported)
        assert "1920" in page.errors()[3] and "second start" in page.errors()[4]
        for garbage in ('{"type": "bogus"}', '{"type": "mark"}', "[]", bytes(3)):
            await page.raw(garbage)  # counted and logged (not every one is reported to the page)

        turn = await page.ask(SPRAY)  # still answered
        assert turn["intent"] == "spray_cans" and "燃やせないごみ" in turn["reply"], turn
        assert call_id in runtime.calls and page.close_code is None
        await page.send("hangup")
        assert await page.closed(timeout=10) == 1000
    await gone(runtime, call_id)


@pytest.mark.asyncio
async def test_an_oversized_message_closes_the_socket(runtime, base_url):
    async with Page.open(base_url) as page:
        await page.start()
        call_id = await page.answered()
        call = runtime.calls[call_id]
        await page.raw(bytes(webcall.MAX_MESSAGE_BYTES + 2))
        assert await page.closed(timeout=10) == 1009
        assert page.errors()
    await gone(runtime, call_id)
    assert call.ended

    async with Page.open(base_url) as page:  # a huge text message, before start
        await page.raw(json.dumps({"type": "text", "text": "x" * 70000}))
        assert await page.closed(timeout=10) == 1009


@pytest.mark.asyncio
async def test_a_socket_that_never_starts_is_closed(runtime, base_url, monkeypatch):
    monkeypatch.setattr(webcall, "START_TIMEOUT_S", 1.0)
    before = len(runtime.calls)
    async with Page.open(base_url) as page:
        opened = time.monotonic()
        assert await page.closed(timeout=10) == 1008
        assert 0.8 <= time.monotonic() - opened < 5
        assert page.errors() == [webcall.NO_AUDIO_NOTICE] and not page.of("ready")
    assert len(runtime.calls) == before


@pytest.mark.asyncio
async def test_a_call_without_audio_is_ended(runtime, base_url, monkeypatch):
    monkeypatch.setattr(webcall, "AUDIO_TIMEOUT_S", 1.0)
    async with Page.open(base_url) as page:
        await page.start(stream=False)  # started, but the microphone never sends a frame
        call_id = await page.answered()
        call = runtime.calls.get(call_id)
        assert await page.closed(timeout=15) == 1008
        assert page.errors()[-1] == webcall.NO_AUDIO_NOTICE
    await gone(runtime, call_id)
    assert call is not None and call.ended


@pytest.mark.asyncio
async def test_audio_faster_than_real_time_is_partly_refused(runtime, base_url):
    async with Page.open(base_url) as page:
        await page.start(stream=False)
        call_id = await page.answered()
        # far more audio at once than the burst allowance, but fewer surplus frames than would
        # close the socket (each refused frame counts as a bad message)
        flood = ARRIVAL_BURST_FRAMES + webcall.MAX_BAD_MESSAGES // 2
        for _ in range(flood):
            await page.raw(SILENCE)
        await page.until(lambda: len(page.errors()) >= 5)
        assert all("faster than real time" in m for m in page.errors())
        turn = await page.ask(FRIDGE)  # the call is unharmed
        assert turn["intent"] == "kaden_four"
        assert page.close_code is None and call_id in runtime.calls
        await page.send("hangup")
        assert await page.closed(timeout=10) == 1000
    await gone(runtime, call_id)

    async with Page.open(base_url) as page:  # a client that keeps flooding is cut off
        await page.start(stream=False)
        call_id = await page.answered()
        for _ in range(ARRIVAL_BURST_FRAMES + webcall.MAX_BAD_MESSAGES + 50):
            await page.raw(SILENCE)
        assert await page.closed(timeout=10) == 1008
    await gone(runtime, call_id)


@pytest.mark.asyncio
async def test_real_time_audio_from_the_first_frame_is_never_refused(runtime, base_url):
    """The page streams from the moment the socket opens, while the greeting is synthesised and
    played: a client at real time never has a frame refused as too fast."""
    async with Page.open(base_url) as page:
        await page.start()
        call_id = await page.answered()
        await asyncio.sleep(3)
        turn = await page.ask(SPRAY)
        assert turn["intent"] == "spray_cans"
        assert not page.errors()
        await page.send("hangup")
        assert await page.closed(timeout=10) == 1000
    await gone(runtime, call_id)


@pytest.mark.asyncio
async def test_two_calls_at_once_and_a_flooding_client(runtime, base_url):
    async def caller(question: str) -> tuple[str, dict, Page]:
        async with Page.open(base_url) as page:
            await page.start()
            call_id = await page.answered()
            turn = await page.ask(question)
            await page.send("hangup")
            await page.closed(timeout=10)
            return call_id, turn, page

    async def vandal() -> Page:
        async with Page.open(base_url) as page:
            await page.start(stream=False)
            await page.until(lambda: bool(page.of("ready")))
            for i in range(300):
                await page.raw(["{garbage", bytes(7), '{"type": "dtmf", "digit": "Z"}'][i % 3])
                if page.close_code is not None:
                    break
            await page.closed(timeout=WAIT_S)
            return page

    (a_id, a, a_page), (b_id, b, b_page), bad = await asyncio.gather(caller(FRIDGE), caller(SPRAY), vandal())
    assert bad.close_code == 1008  # too many bad messages: that socket alone is closed
    assert a_id != b_id
    assert a["heard"] == FRIDGE and a["intent"] == "kaden_four" and "家電リサイクル" in a["reply"]
    assert b["heard"] == SPRAY and b["intent"] == "spray_cans" and "燃やせないごみ" in b["reply"]
    for page, question in ((a_page, FRIDGE), (b_page, SPRAY)):
        assert page.close_code == 1000 and not page.errors()
        assert [t["heard"] for t in page.of("turn") if t["kind"] != "greeting"] == [question]  # its own turn only
    for call_id in (a_id, b_id, bad.of("ready")[0]["call_id"]):
        await gone(runtime, call_id)


# --- who may call -------------------------------------------------------------------------------

PROXIED = {"X-Forwarded-For": "10.1.2.3"}


@pytest.mark.asyncio
async def test_access_from_another_machine_needs_the_token(runtime, base_url):
    async with httpx.AsyncClient(base_url=f"http://{base_url}") as client:
        assert (await client.get("/call")).status_code == 200  # this machine
        denied = await client.get("/call", headers=PROXIED)
        assert denied.status_code == 403 and "Content-Security-Policy" in denied.headers
        assert (await client.get("/call", params={"token": "wrong"}, headers=PROXIED)).status_code == 403
        assert (await client.get("/call", params={"token": WEB_TOKEN}, headers=PROXIED)).status_code == 200

    for query in ("", "?token=wrong", f"?token={WEB_TOKEN}x", "?token="):
        with pytest.raises(InvalidStatus) as refused:
            async with Page.open(base_url, query, headers=PROXIED):
                pass
        assert refused.value.response.status_code == 403
    for header in ({"Forwarded": "for=10.1.2.3"}, {"X-Real-IP": "10.1.2.3"}):
        with pytest.raises(InvalidStatus):
            async with Page.open(base_url, headers=header):
                pass

    async with Page.open(base_url, f"?token={WEB_TOKEN}", headers=PROXIED) as page:
        await page.start()
        call_id = await page.answered()
        await page.send("hangup")
        assert await page.closed(timeout=10) == 1000
    await gone(runtime, call_id)


@pytest.mark.asyncio
async def test_without_a_configured_token_no_token_opens_it(server_runtime, tmp_path):
    rt = web_runtime(server_runtime, tmp_path, webcall_token="")
    with serving(rt) as url:
        for query in ("", "?token=", "?token=anything"):
            with pytest.raises(InvalidStatus):
                async with Page.open(url, query, headers=PROXIED):
                    pass
        async with httpx.AsyncClient(base_url=f"http://{url}") as client:
            assert (await client.get("/call", params={"token": ""}, headers=PROXIED)).status_code == 403


@pytest.mark.asyncio
async def test_a_logged_in_staff_member_may_call_from_anywhere(server_runtime, tmp_path):
    from escalation.accounts import StaffAccounts
    from escalation.console.auth import SESSION_COOKIE
    from escalation.store import TicketStore

    store = TicketStore.from_url(f"sqlite:///{tmp_path / 'ivr.db'}")
    accounts = StaffAccounts(store.engine)
    accounts.add("yamada", "correct horse battery staple")
    rt = dataclasses.replace(web_runtime(server_runtime, tmp_path, cookie_secure=False), store=store,
                             accounts=accounts)
    try:
        with serving(rt) as url:
            async with httpx.AsyncClient(base_url=f"http://{url}", headers=PROXIED) as client:
                assert (await client.get("/call")).status_code == 403
                form = await client.get("/staff/login")
                csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
                assert csrf is not None, form.text
                r = await client.post("/staff/login", data={
                    "name": "yamada", "password": "correct horse battery staple", "csrf": csrf.group(1)})
                assert r.status_code == 303, r.text
                cookie = client.cookies.get(SESSION_COOKIE, path="/")
                assert cookie
                assert (await client.get("/call")).status_code == 200  # the browser sends the cookie here too

            headers = {**PROXIED, "Cookie": f"{SESSION_COOKIE}={cookie}"}
            async with Page.open(url, headers=headers) as page:
                await page.start()
                call_id = await page.answered()
                await page.send("hangup")
                assert await page.closed(timeout=10) == 1000
            await gone(rt, call_id)
            for forged in (cookie[:-4] + "AAAA", "x" + cookie, "e30=.AAAA.AAAA"):  # a changed signature: refused
                with pytest.raises(InvalidStatus) as refused:
                    async with Page.open(url, headers={**PROXIED, "Cookie": f"{SESSION_COOKIE}={forged}"}):
                        pass
                assert refused.value.response.status_code == 403
    finally:
        store.dispose()


# --- capacity -------------------------------------------------------------------------------


def signed(path: str, params: dict[str, str]) -> dict[str, str]:
    return {"X-Twilio-Signature": RequestValidator(TWILIO_TOKEN).compute_signature(PUBLIC + path, params)}


@pytest.mark.asyncio
async def test_at_capacity_web_calls_are_refused_and_phone_calls_go_to_staff(server_runtime, tmp_path):
    rt = web_runtime(server_runtime, tmp_path, max_calls=1, twilio_auth_token=TWILIO_TOKEN, public_url=PUBLIC)
    params = {"CallSid": "CA" + "full".ljust(32, "0"), "From": "+819012345678", "To": "+81742000000",
              "AccountSid": "AC" + "0" * 32}
    with serving(rt) as url:
        async with Page.open(url) as first:
            await first.start()
            first_id = await first.answered()
            async with Page.open(url) as second:
                await second.start()
                assert await second.closed(timeout=10) == 1013
                assert second.errors() == [webcall.BUSY_NOTICE] and not second.of("ready")
            assert list(rt.calls) == [first_id]

            async with httpx.AsyncClient(base_url=f"http://{url}") as client:
                r = await client.post("/twilio/voice", data=params, headers=signed("/twilio/voice", params))
            assert r.status_code == 200, r.text
            twiml = ET.fromstring(r.text)
            dial = twiml.find("Dial")
            assert dial is not None and dial.text == STAFF and twiml.find("Connect") is None

            await first.send("hangup")
            assert await first.closed(timeout=10) == 1000
        await gone(rt, first_id)

        async with Page.open(url) as again:  # the line is free again
            await again.start()
            again_id = await again.answered()
            await again.send("hangup")
            await again.closed(timeout=10)
        await gone(rt, again_id)
        async with httpx.AsyncClient(base_url=f"http://{url}") as client:
            r = await client.post("/twilio/voice", data=params, headers=signed("/twilio/voice", params))
        assert ET.fromstring(r.text).find("Connect/Stream") is not None  # a bot answers again


# --- the pages ------------------------------------------------------------------------------


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("href", "src", "action") and value is not None:
                self.urls.append((tag, name, value))


def local_only(html: str, host: str) -> list[tuple[str, str, str]]:
    """The page's href/src/action URLs, none of them to another host (``url_for`` writes this
    server's own absolute URLs, which are fine)."""
    links = Links()
    links.feed(html)
    assert links.urls
    foreign = [u for u in links.urls if re.match(r"^\s*(https?:)?//", u[2], re.IGNORECASE)
               and httpx.URL(u[2].strip()).netloc.decode() != host]
    assert not foreign, f"loads or links another host: {foreign}"
    return links.urls


@pytest.mark.asyncio
async def test_home_and_call_pages(base_url):
    async with httpx.AsyncClient(base_url=f"http://{base_url}") as client:
        home = await client.get("/")
        assert home.status_code == 200 and home.headers["content-type"].startswith("text/html")
        assert '<html lang="ja">' in home.text and "ごみ" in home.text and "テスト通話" in home.text
        csp = home.headers.get("Content-Security-Policy", "")
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        hrefs = {v for tag, name, v in local_only(home.text, base_url) if tag == "a"}
        assert {"/call", "/staff/", "/health"} <= hrefs

        page = await client.get("/call")
        assert page.status_code == 200 and "Content-Security-Policy" in page.headers
        urls = local_only(page.text, base_url)
        scripts = [v for tag, name, v in urls if tag == "script"]
        assert scripts and "<script>" not in page.text  # no inline script: the CSP forbids it
        for src in scripts:
            assert (await client.get(src)).status_code == 200
        assert (await client.get("/health")).json()["status"] == "ok"
