"""Fail-safe: a fault in one stage of a live call (ASR, NLU, TTS, the ticket database).

Every call here is a real ``VoiceCall`` on the real models (Whisper, Silero, pyopenjtalk and its
worker process) and a real ticket store (SQLite and PostgreSQL); only the stage under test is made
to raise, for one call, mid-call (after the greeting and a first answered turn). Each case checks
what the caller gets — the apology and a transfer when staff are in; a ticket (committed before its
number is read out) when they are not and the database is up; a transfer when neither — that it
starts within ``FAULT_BUDGET_S`` of the fault (no dead air), and that a second call on the same
models, talking at the same time, is answered as usual. The carriers' own faults (AMI, the TTS
worker process killed) are in test_faults_carriers.py.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from conftest import cached_voice, free_port
from escalation.db import make_engine
from escalation.store import TicketStore
from ivr.audio.codec import frames
from ivr.dialogue import prompts
from ivr.speech.sentences import split_sentences
from ivr.speech.services import APOLOGY
from ivr.speech.voice_call import VoiceCall
from simulator.audio import RecordingTransport

FAULT_BUDGET_S = 2.0  # the limit: from the fault to the first sound of what the caller is told
TZ = ZoneInfo("Asia/Tokyo")
STAFF_IN = datetime(2016, 6, 1, 10, 0, tzinfo=TZ)  # a Wednesday morning: office hours
STAFF_OUT = datetime(2016, 6, 5, 10, 0, tzinfo=TZ)  # a Sunday: tickets
QUESTION = "冷蔵庫を捨てたいんですけど"
OTHER_QUESTION = "乾電池は何ごみですか"
SILENCE = np.zeros(8 * 2500, np.int16)
SYSTEM_ERROR_OPENING = prompts.SYSTEM_ERROR


class Injected(RuntimeError):
    """The fault a test put in; anything else raised is a bug the test should show."""


@dataclass
class Fault:
    """When the armed stage raised (monotonic seconds), for the 2-second budget."""

    armed: bool = False
    at: float | None = None

    def hit(self, stage: str) -> None:
        if self.armed:
            if self.at is None:
                self.at = time.monotonic()
            raise Injected(f"injected fault in {stage}")


@dataclass
class TimedTransport(RecordingTransport):
    """Records when each prompt's first frame went out, and what the store held at that moment."""

    first_frame: dict[int, float] = field(default_factory=dict)
    tickets_then: dict[int, int] = field(default_factory=dict)
    store: TicketStore | None = None

    async def send_audio(self, frame: np.ndarray) -> None:
        if self._prompt not in self.first_frame:
            self.first_frame[self._prompt] = time.monotonic()
            if self.store is not None:
                self.tickets_then[self._prompt] = len(self.store.query())
        await super().send_audio(frame)

    async def transfer(self, data: dict[str, Any]) -> None:
        self.first_frame.setdefault(-1, time.monotonic())
        await super().transfer(data)


class BrokenAsr:
    """The pool, but transcription raises once armed (a dead CTranslate2 worker, a bad model file)."""

    def __init__(self, real: Any, fault: Fault) -> None:
        self.real, self.fault = real, fault

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def submit(self, pcm: np.ndarray, **kwargs: Any) -> Any:
        if self.fault.armed:
            raise Injected("speculative ASR")  # not the fault's time: the turn's own transcription is
        return self.real.submit(pcm, **kwargs)

    async def transcribe(self, pcm: np.ndarray, **kwargs: Any) -> Any:
        self.fault.hit("ASR")
        return await self.real.transcribe(pcm, **kwargs)


class BrokenNlu:
    def __init__(self, real: Any, fault: Fault) -> None:
        self.real, self.fault = real, fault

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def parse(self, text: str, today: Any) -> Any:
        self.fault.hit("NLU")
        return self.real.parse(text, today)


def break_stage(call: VoiceCall, stage: str, fault: Fault) -> None:
    """Make ``stage`` of this call (only) raise once ``fault`` is armed."""
    if stage == "asr":
        call.speech = dataclasses.replace(call.speech, asr=BrokenAsr(call.speech.asr, fault))
    elif stage == "nlu":
        call.session.brain = dataclasses.replace(call.session.brain, nlu=BrokenNlu(call.session.brain.nlu, fault))
    elif stage == "tts":  # synthesis raises (pyopenjtalk on text it chokes on); pinned audio still plays
        tts = copy.copy(call.speech.tts)
        tts.cache, tts._recent = None, OrderedDict()  # nothing pre-rendered: every reply needs synthesis

        async def render(unit: str) -> np.ndarray:
            fault.hit("TTS")
            raise AssertionError("unreachable")

        tts._render_elsewhere = render  # type: ignore[method-assign]
        call.speech = dataclasses.replace(call.speech, tts=tts)


def runtime_for(server_runtime: Any, store: TicketStore | None, staff_in: bool) -> Any:
    from escalation.tickets import InMemoryTicketQueue

    now = STAFF_IN if staff_in else STAFF_OUT
    return dataclasses.replace(server_runtime, tickets=store if store is not None else InMemoryTicketQueue(),
                               store=store, clock=lambda: now, calls={})


async def open_call(runtime: Any, name: str, store: TicketStore | None = None) -> tuple[VoiceCall, TimedTransport]:
    transport = TimedTransport(store=store)
    call = VoiceCall(runtime.session(name), runtime.speech, transport, pace=False)
    transport.call = call
    await call.start()
    await call.settled(60)
    await call.dtmf("1")  # a first turn answered (分別: "which item?") before anything breaks
    await call.settled(60)
    assert call.records[-1].reply.intent == "item_category" and not call.ended
    return call, transport


async def speak(call: VoiceCall, pcm: np.ndarray) -> None:
    for frame in frames(np.concatenate([SILENCE[:2400], pcm, SILENCE])):
        await call.audio(frame)


async def other_call_answers(runtime: Any, voice: Any) -> None:
    """A second caller on the same models asks a question while the first call's fault is handled."""
    call, transport = await open_call(runtime, "other")
    await speak(call, voice(OTHER_QUESTION))
    await call.settled(60)
    reply = call.records[-1]
    assert reply.kind == "speech" and reply.reply.action.value in ("answer", "clarify"), reply
    assert reply.reply.intent in ("item_category", "dry_cells", "hazardous_how"), reply
    assert len(transport.prompt_audio(reply.prompt)) > 8000  # the answer was spoken (> 1 s)
    assert not [a for a in transport.actions if a["kind"] in ("transfer", "hangup")]
    await call.close()


async def faulty_turn(runtime: Any, stage: str, voice: Any, store: TicketStore | None = None
                      ) -> tuple[VoiceCall, TimedTransport, Fault]:
    """Open the call, break ``stage``, ask a question while another call asks one too."""
    call, transport = await open_call(runtime, f"faulty-{stage}", store)
    fault = Fault()
    break_stage(call, stage, fault)
    fault.armed = True
    before = call.records[-1].prompt

    async def ask() -> None:
        if stage == "asr":
            await speak(call, voice(QUESTION))
        else:
            await call.typed(QUESTION)  # read as ASR would: the fault is further on
        await call.settled(60)

    await asyncio.gather(ask(), other_call_answers(runtime, voice))
    assert fault.at is not None, f"the {stage} fault never fired"
    transport.first_frame = {p: t for p, t in transport.first_frame.items() if p > before or p == -1}
    await call.close()
    return call, transport, fault


def told_within_budget(transport: TimedTransport, fault: Fault) -> int:
    """The first prompt after the fault started within the budget; its number."""
    prompt = min(p for p in transport.first_frame if p > 0)
    delay = transport.first_frame[prompt] - fault.at
    assert 0 <= delay < FAULT_BUDGET_S, f"{delay:.2f} s of silence after the fault"
    return prompt


def heard(transport: TimedTransport, prompt: int, text: str, tts: Any) -> bool:
    """The audio recorded under ``prompt`` opens with ``text``'s first sentence and ends with its last,
    sample for sample as the pinned voice says them, and is at least as long as ``text``."""
    units = split_sentences(text)
    want, first, last = tts.pinned(text), tts.pinned(units[0]), tts.pinned(units[-1])
    if want is None or first is None or last is None:
        return False
    got = transport.prompt_audio(prompt)
    head = len(first) // 160 * 160
    padded = -(-len(last) // 160) * 160  # the last unit goes out padded to a whole 20 ms frame
    tail = got[-padded:][:len(last)]
    return len(got) >= len(want) and np.array_equal(got[:head], first[:head]) and np.array_equal(tail, last)


@pytest.fixture(scope="module")
def voice(server_runtime):
    return cached_voice(server_runtime.speech)


@pytest.mark.parametrize("stage", ["asr", "nlu", "tts"])
async def test_a_fault_with_staff_in_is_an_apology_and_a_transfer(server_runtime, voice, stage):
    runtime = runtime_for(server_runtime, None, staff_in=True)
    call, transport, fault = await faulty_turn(runtime, stage, voice)
    prompt = told_within_budget(transport, fault)
    assert heard(transport, prompt, APOLOGY, runtime.speech.tts), "the caller did not hear the apology"
    assert transport.actions[-1]["kind"] == "transfer" and call.ended
    assert transport.first_frame[-1] - fault.at < FAULT_BUDGET_S  # unpaced: the transfer follows at once
    assert [r.reply.intent for r in call.records][-1] == "system_error"


@pytest.mark.parametrize("stage", ["asr", "nlu"])
async def test_a_fault_with_staff_out_takes_a_ticket_committed_before_it_is_read_out(
        server_runtime, voice, db_url, stage):
    store = TicketStore.from_url(db_url)
    try:
        runtime = runtime_for(server_runtime, store, staff_in=False)
        call, transport, fault = await faulty_turn(runtime, stage, voice, store)
        prompt = told_within_budget(transport, fault)
        (ticket,) = store.query()
        assert transport.tickets_then[prompt] == 1  # in the database before the first word of its number
        reply = call.records[-1].reply
        assert prompts.say_digits(ticket.number) in reply.text and reply.action.value == "end"
        assert not ticket.complete and ticket.status == "open"
        assert transport.actions[-1]["kind"] == "hangup"  # the number read out, then goodbye
    finally:
        store.dispose()


async def test_tts_down_with_staff_out_still_keeps_the_ticket_and_transfers_with_the_apology(
        server_runtime, voice, db_url):
    """The ticket's number cannot be spoken without synthesis: it is kept, and staff take the caller."""
    store = TicketStore.from_url(db_url)
    try:
        runtime = runtime_for(server_runtime, store, staff_in=False)
        call, transport, fault = await faulty_turn(runtime, "tts", voice, store)
        told_within_budget(transport, fault)  # the reply's pinned opening (申し訳ありません…) plays, then breaks
        assert len(store.query()) == 1
        # the carrier gets the reply's pinned opening (申し訳ありません…) until it broke, then the apology
        assert heard(transport, max(transport.audio), SYSTEM_ERROR_OPENING + APOLOGY, runtime.speech.tts)
        assert transport.actions[-1]["kind"] == "transfer"
    finally:
        store.dispose()


@pytest.fixture(params=["refused", "hung"])
async def dead_database(request):
    """A PostgreSQL URL whose server is down: nothing listens (refused), or it accepts and never answers."""
    if request.param == "refused":
        yield TicketStore(make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/ivr"))
        return
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # a wedged server: the connection is accepted, the handshake never answered

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield TicketStore(make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{port}/ivr"))
    for writer in held:
        writer.close()
    server.close()


@pytest.mark.parametrize("staff_in", [True, False], ids=["staff_in", "staff_out"])
async def test_a_fault_with_the_database_down_is_still_a_transfer_never_silence(
        server_runtime, voice, dead_database, staff_in):
    runtime = runtime_for(server_runtime, dead_database, staff_in=staff_in)
    call, transport, fault = await faulty_turn(runtime, "nlu", voice)
    prompt = told_within_budget(transport, fault)
    lead = APOLOGY if staff_in else prompts.TICKET_FAILED + prompts.TRANSFERRING
    assert heard(transport, prompt, lead, runtime.speech.tts), call.records[-1].reply.text
    assert transport.actions[-1]["kind"] == "transfer" and call.ended
